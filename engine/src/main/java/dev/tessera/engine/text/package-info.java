/**
 * Text generation: {@link dev.tessera.engine.text.TextEngine#load} turns a Hugging Face decoder checkpoint
 * (Llama, Mistral, Qwen2) into ONNX segment graphs and runs packed, unpadded steps over the paged KV cache.
 * Sub-packages: {@code model} (config), {@code convert} (checkpoint to graphs), {@code runtime} (the executor),
 * {@code sampling} and {@code tokenizer}.
 */
@NullMarked
package dev.tessera.engine.text;

import org.jspecify.annotations.NullMarked;
