package dev.tessera.builtin;

import java.nio.charset.StandardCharsets;

/**
 * Deterministic weight values: each tensor gets its own SplitMix64 stream, seeded from the model seed and the
 * tensor's name, so a tensor's values do not depend on which other tensors exist or on the order they are written.
 * The generator is spelled out here (not taken from the JDK) so the bytes stay the same on every Java version.
 */
final class RandomWeights {
    private RandomWeights() {}

    /** Uniform values in [-bound, bound): standard deviation {@code bound / sqrt(3)}. */
    static SafetensorsWriter.Source uniform(long modelSeed, String tensorName, double bound) {
        long[] state = {mix(modelSeed ^ fnv1a(tensorName))};
        float scale = (float) (2 * bound);
        float shift = (float) bound;
        return (chunk, count) -> {
            long s = state[0];
            for (int i = 0; i < count; i++) {
                s += 0x9E3779B97F4A7C15L;
                long z = mix(s);
                chunk[i] = ((z >>> 40) * 0x1.0p-24f) * scale - shift;
            }
            state[0] = s;
        };
    }

    /** Uniform values with the given standard deviation. */
    static SafetensorsWriter.Source withStd(long modelSeed, String tensorName, double std) {
        return uniform(modelSeed, tensorName, std * Math.sqrt(3.0));
    }

    /** Every value {@code value} (RMSNorm weights are ones). */
    static SafetensorsWriter.Source constant(float value) {
        return (chunk, count) -> java.util.Arrays.fill(chunk, 0, count, value);
    }

    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    private static long fnv1a(String s) {
        long h = 0xCBF29CE484222325L;
        for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
            h ^= b & 0xFF;
            h *= 0x100000001B3L;
        }
        return h;
    }
}
