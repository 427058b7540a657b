package dev.tessera.scheduler.text;

/**
 * Counters of a vision-language model's encoder work since it started.
 *
 * @param imagesEncoded  images run through the vision tower
 * @param patchesEncoded patches (vision tower rows) computed: no padding, so also the patches needed
 * @param cacheHits      times an image's embeddings came from the encoder-output cache instead
 * @param encoderSteps   steps that encoded at least one image
 * @param maxStepPatches most patches encoded in one step
 * @param budgetPatches  the encoder budget: the most patches one step may encode
 */
public record EncoderStats(long imagesEncoded, long patchesEncoded, long cacheHits, long encoderSteps,
                           int maxStepPatches, int budgetPatches) {
}
