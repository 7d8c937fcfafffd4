// The CSP layer in one include: contexts, time helpers, scope and group, and
// the pipeline combinators.
#pragma once

#include <rill/csp/batch.hpp>
#include <rill/csp/context.hpp>
#include <rill/csp/fan.hpp>
#include <rill/csp/group.hpp>
#include <rill/csp/pipeline.hpp>
#include <rill/csp/scope.hpp>
#include <rill/csp/time.hpp>
