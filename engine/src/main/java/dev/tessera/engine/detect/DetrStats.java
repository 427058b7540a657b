package dev.tessera.engine.detect;

/**
 * Cumulative counters of a {@link DetrEngine} since it was loaded.
 *
 * @param steps           {@link DetrEngine#detect} calls that ran frames
 * @param frames          frames detected
 * @param tokensComputed  transformer rows computed: encoder rows plus decoder query rows
 * @param tokensNeeded    rows the frames need: {@code h'·w'} per frame (its own feature map) plus the queries; equal
 *                        to {@code tokensComputed} because nothing is padded
 * @param backboneNanos   time in the backbone graph
 * @param encoderNanos    time in the encoder graphs (attention excluded)
 * @param decoderNanos    time in the decoder graphs (attention excluded)
 * @param attentionNanos  time in the Java attention kernel (copies to and from it included)
 */
public record DetrStats(long steps, long frames, long tokensComputed, long tokensNeeded, long backboneNanos,
                        long encoderNanos, long decoderNanos, long attentionNanos) {
}
