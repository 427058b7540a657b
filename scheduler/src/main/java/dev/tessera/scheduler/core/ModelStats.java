package dev.tessera.scheduler.core;

/** A snapshot of one served model's lane, read by metrics at scrape time. Each kind has its own record. */
public interface ModelStats {
    /** Steps this model ran so far. */
    long steps();
}
