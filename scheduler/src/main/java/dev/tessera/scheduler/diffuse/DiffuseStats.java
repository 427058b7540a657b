package dev.tessera.scheduler.diffuse;

import dev.tessera.scheduler.core.ModelStats;

/**
 * A snapshot of a diffusion lane.
 *
 * @param running           jobs held
 * @param steps             steps run (one UNet call each)
 * @param rowsComputed      UNet rows computed
 * @param rowsNeeded        rows the jobs of those steps needed (equal: no padding)
 * @param images            images finished
 * @param previews          previews sent
 * @param previewsCoalesced previews not sent because the client had not taken the previous one
 * @param promptHits        prompt encodings found in the cache
 * @param promptMisses      prompts encoded
 * @param controlRowsComputed ControlNet rows computed
 * @param controlRowsNeeded   rows of ControlNet jobs in those steps (equal: the ControlNet runs over those only)
 */
public record DiffuseStats(int running, long steps, long rowsComputed, long rowsNeeded, long images, long previews,
                           long previewsCoalesced, long promptHits, long promptMisses, long controlRowsComputed,
                           long controlRowsNeeded) implements ModelStats {
}
