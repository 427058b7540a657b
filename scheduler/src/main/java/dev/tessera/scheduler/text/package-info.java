/**
 * Text generation: {@link dev.tessera.scheduler.text.TextModel} (a served decoder), its input
 * ({@code TextInput}: checks, tokenization), its lane ({@code TextLane}: planner, step runner, event emitter over a
 * paged KV cache: continuous batching, chunked prefill, preemption, n &gt; 1 forks) and its output
 * ({@code TextOutput}: detokenization and stop strings).
 */
@NullMarked
package dev.tessera.scheduler.text;

import org.jspecify.annotations.NullMarked;
