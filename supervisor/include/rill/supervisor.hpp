// The supervisor layer in one include: child specs, supervisors, dynamic
// supervisors, backoff, events and errors.
#pragma once

#include <rill/supervisor/backoff.hpp>
#include <rill/supervisor/child_spec.hpp>
#include <rill/supervisor/dynamic_supervisor.hpp>
#include <rill/supervisor/errors.hpp>
#include <rill/supervisor/events.hpp>
#include <rill/supervisor/options.hpp>
#include <rill/supervisor/supervisor.hpp>
