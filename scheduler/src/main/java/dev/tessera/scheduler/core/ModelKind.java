package dev.tessera.scheduler.core;

/** What kind of jobs a served model answers. Each kind has its own folder: its lane, its input and output. */
public enum ModelKind {
    /** A decoder that generates text (token deltas). */
    TEXT_GENERATION,
    /** An object detector that answers frames with boxes. */
    DETECTION,
    /** A diffusion pipeline that generates images (previews, then images): {@code diffuse/}. */
    DIFFUSION
}
