/**
 * Built-in models made by this project's own code, so that serving and benchmarks need no download:
 * {@link dev.tessera.builtin.BuiltinModels} writes a Hugging Face checkpoint directory (Llama-shaped config,
 * fp32 safetensors with weights from a fixed seed, and a byte-level BPE {@code tokenizer.json} trained here on a
 * committed English corpus). The weights are random: generated text is gibberish.
 */
@NullMarked
package dev.tessera.builtin;

import org.jspecify.annotations.NullMarked;
