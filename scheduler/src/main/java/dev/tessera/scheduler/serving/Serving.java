package dev.tessera.scheduler.serving;

import dev.tessera.scheduler.core.WorkLoop;

/**
 * The shared machinery a served model's jobs go through: input threads, the work loop, output threads.
 *
 * @param input  validation and preparation, off the hot threads
 * @param loop   the one loop that runs every model's steps
 * @param output output processing, off the loop thread
 */
public record Serving(InputProcessor input, WorkLoop loop, OutputProcessor output) {
}
