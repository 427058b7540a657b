/**
 * Text to token ids and back: {@link dev.tessera.engine.text.tokenizer.HfTokenizer} (a Hugging Face {@code tokenizer.json}
 * through DJL's tokenizers binding, offline), {@link dev.tessera.engine.text.tokenizer.IncrementalDetokenizer} (token stream to
 * UTF-8-safe text deltas) and {@link dev.tessera.engine.text.tokenizer.StopMatcher} (stop strings across deltas).
 */
@NullMarked
package dev.tessera.engine.text.tokenizer;

import org.jspecify.annotations.NullMarked;
