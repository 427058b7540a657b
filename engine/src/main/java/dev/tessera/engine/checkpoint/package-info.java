/**
 * Hugging Face checkpoints: safetensors files (single or sharded), validated at load time. Failures are
 * {@link dev.tessera.engine.checkpoint.CheckpointException}s naming the file and tensor.
 */
@NullMarked
package dev.tessera.engine.checkpoint;

import org.jspecify.annotations.NullMarked;
