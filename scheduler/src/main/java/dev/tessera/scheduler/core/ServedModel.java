package dev.tessera.scheduler.core;

/** One model the server serves, of any kind: what clients see of it, its lane on the loop, its statistics. */
public interface ServedModel {
    ModelCard card();

    /** Its lane on the {@link WorkLoop}. */
    Lane<?> lane();

    /** A snapshot for metrics; safe from any thread. */
    ModelStats stats();
}
