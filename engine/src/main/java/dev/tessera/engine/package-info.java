/**
 * The engine facade: {@link dev.tessera.engine.Engine#load} turns {@link dev.tessera.engine.EngineOptions} (a
 * checkpoint directory or a built-in model) into a tokenizer, a model executor and a paged KV store.
 */
@NullMarked
package dev.tessera.engine;

import org.jspecify.annotations.NullMarked;
