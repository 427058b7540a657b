/**
 * Model execution, one folder per job kind over a common base. Common: {@code checkpoint} (safetensors),
 * {@code onnx} (the graph builder), {@code attention} (the FlashAttention-style kernels and their worker pool).
 * Kinds: {@code text} (decoders over the paged KV cache).
 */
@NullMarked
package dev.tessera.engine;

import org.jspecify.annotations.NullMarked;
