/** Running packed, unpadded steps of a decoder: {@code StepBatch} in, logits out, KV written to the paged cache ({@code OrtModelExecutor}). */
@NullMarked
package dev.tessera.engine.text.runtime;

import org.jspecify.annotations.NullMarked;
