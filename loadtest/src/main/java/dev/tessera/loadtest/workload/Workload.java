package dev.tessera.loadtest.workload;

/** A source of requests; {@link #next()} is called by one thread, in order. */
public interface Workload {
    /** The next request (workloads cycle: there is always one). */
    LoadRequest next();
}
