// Compiled, never run, by the select_direction_* tests (tests/CMakeLists.txt):
// with no macro defined it must compile, which proves the command line (the
// include path, the language standard) sound; each RILL_MISUSE_* macro adds
// one line that uses a channel against its direction, which must not compile,
// and the test checks that the error names that mistake.
#include <rill/chan.hpp>
#include <rill/select.hpp>

#include <optional>

void direction_cases() {
    rill::chan<int> both(1);
    rill::sender<int> tx = both.tx();
    rill::receiver<int> rx = both.rx();
    int v = 0;
    auto got = [](std::optional<int>) {};
    auto sent = [] {};

    // Every allowed direction, in select and in a selector.
    rill::select(rill::on_recv(both, got), rill::on_recv(rx, got), rill::on_send(both, v, sent),
                 rill::on_send(both, 1, sent), rill::on_send(tx, v, sent),
                 rill::on_send(tx, 1, sent), rill::on_default(sent));
    rill::selector s;
    s.recv(both, got).recv(rx, got).send(both, v, sent).send(tx, v, sent);

#if defined(RILL_MISUSE_ON_SEND_THROUGH_RECEIVER)
    rill::select(rill::on_send(rx, v, sent), rill::on_default(sent));
#elif defined(RILL_MISUSE_ON_RECV_THROUGH_SENDER)
    rill::select(rill::on_recv(tx, got), rill::on_default(sent));
#elif defined(RILL_MISUSE_SELECTOR_SEND_THROUGH_RECEIVER)
    s.send(rx, v, sent);
#elif defined(RILL_MISUSE_SELECTOR_RECV_THROUGH_SENDER)
    s.recv(tx, got);
#endif
}
