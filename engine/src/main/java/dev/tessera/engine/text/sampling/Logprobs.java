package dev.tessera.engine.text.sampling;

/**
 * Log-probability of a sampled token and the most likely alternatives at that position, as computed by
 * {@link Sampler#logprobs(int, int)}.
 *
 * @param tokenId     the sampled token
 * @param logprob     its log-probability
 * @param topIds      the {@code topN} most likely tokens, most likely first
 * @param topLogprobs their log-probabilities
 */
public record Logprobs(int tokenId, float logprob, int[] topIds, float[] topLogprobs) {
}
