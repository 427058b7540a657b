/**
 * The iteration loop of text generation: admission, a bounded waiting queue, the per-step token budget, chunked
 * prefill, preemption by recomputation, and one Reactor {@code Flux} of events per request.
 * {@link dev.tessera.scheduler.Scheduler} implements {@link dev.tessera.scheduler.GenerationService}.
 */
package dev.tessera.scheduler;
