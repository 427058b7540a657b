/**
 * The threads around the loop: {@link dev.tessera.scheduler.serving.InputProcessor} (validation, tokenization,
 * image decoding) and {@link dev.tessera.scheduler.serving.OutputProcessor} (detokenization, stop strings), so
 * that neither a network event loop nor the loop thread does that work.
 */
@NullMarked
package dev.tessera.scheduler.serving;

import org.jspecify.annotations.NullMarked;
