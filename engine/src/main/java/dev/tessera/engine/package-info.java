/**
 * Model execution, one folder per job kind over a common base. Common: {@code checkpoint} (safetensors),
 * {@code onnx} (the graph builder), {@code attention} (the FlashAttention-style kernels and their worker pool),
 * {@code image} (decoding, resizing, normalizing). Kinds: {@code text} (decoders over the paged KV cache),
 * {@code detect} (DETR, packed without padding). {@link dev.tessera.engine.CheckpointKind} tells which kind a
 * checkpoint directory is.
 */
@NullMarked
package dev.tessera.engine;

import org.jspecify.annotations.NullMarked;
