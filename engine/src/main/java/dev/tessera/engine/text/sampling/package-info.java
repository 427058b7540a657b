/**
 * Token sampling: per-request parameters ({@link dev.tessera.engine.text.sampling.SamplingParams}), their validation, and
 * the {@link dev.tessera.engine.text.sampling.Sampler} that turns a row of logits into a token.
 */
package dev.tessera.engine.text.sampling;
