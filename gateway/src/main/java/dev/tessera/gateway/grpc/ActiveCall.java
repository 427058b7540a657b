package dev.tessera.gateway.grpc;

import dev.tessera.gateway.session.CallError;

/** An RPC in flight, tracked so that shutdown can wait for it and, after the grace period, cancel it. */
interface ActiveCall {
    /** Cancels the call's jobs and ends it with {@code error}. Runs on the call's event loop. */
    void abort(CallError error);

    /** The server started draining: end as soon as the call's own work is done. Runs on the call's loop. */
    default void draining() {
    }
}
