/**
 * Text to token ids and back: {@link dev.tessera.engine.text.tokenizer.HfTokenizer} (a Hugging Face {@code tokenizer.json}
 * through DJL's tokenizers binding, offline), {@link dev.tessera.engine.text.tokenizer.IncrementalDetokenizer} (token stream to
 * UTF-8-safe text deltas), {@link dev.tessera.engine.text.tokenizer.StopMatcher} (stop strings across deltas) and
 * {@link dev.tessera.engine.text.tokenizer.TokenizerConfig} (the chat template and special tokens of
 * {@code tokenizer_config.json} / {@code chat_template.jinja}; rendered by the scheduler's {@code ChatTemplate}).
 */
@NullMarked
package dev.tessera.engine.text.tokenizer;

import org.jspecify.annotations.NullMarked;
