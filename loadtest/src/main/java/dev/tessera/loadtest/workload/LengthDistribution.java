package dev.tessera.loadtest.workload;

import java.util.Random;

/**
 * A distribution of lengths (prompt words or output tokens): {@code N} (fixed), {@code MIN:MAX} (uniform, both
 * inclusive) or {@code normal:MEAN:STD} (rounded, clamped to at least 1).
 */
public sealed interface LengthDistribution {
    /** Draws one length, at least 1. */
    int sample(Random rng);

    /** The mean length. */
    double mean();

    /** A fixed length. */
    record Fixed(int length) implements LengthDistribution {
        public Fixed {
            if (length < 1) throw new IllegalArgumentException("a length must be >= 1, got " + length);
        }

        @Override
        public int sample(Random rng) {
            return length;
        }

        @Override
        public double mean() {
            return length;
        }
    }

    /** Uniform over {@code [min, max]}. */
    record Uniform(int min, int max) implements LengthDistribution {
        public Uniform {
            if (min < 1 || max < min) throw new IllegalArgumentException("uniform needs 1 <= MIN <= MAX, got " + min + ":" + max);
        }

        @Override
        public int sample(Random rng) {
            return min + rng.nextInt(max - min + 1);
        }

        @Override
        public double mean() {
            return (min + max) / 2.0;
        }
    }

    /** Normal with the given mean and standard deviation, rounded and clamped to at least 1. */
    record Normal(double mean, double std) implements LengthDistribution {
        public Normal {
            if (mean < 1 || std < 0) throw new IllegalArgumentException("normal needs MEAN >= 1 and STD >= 0");
        }

        @Override
        public int sample(Random rng) {
            return (int) Math.max(1, Math.round(mean + std * rng.nextGaussian()));
        }
    }

    /** Parses {@code N}, {@code MIN:MAX} or {@code normal:MEAN:STD}. */
    static LengthDistribution parse(String text) {
        String[] p = text.trim().split(":");
        try {
            if (p.length == 1) return new Fixed(Integer.parseInt(p[0]));
            if (p.length == 2) return new Uniform(Integer.parseInt(p[0]), Integer.parseInt(p[1]));
            if (p.length == 3 && p[0].equals("normal")) {
                return new Normal(Double.parseDouble(p[1]), Double.parseDouble(p[2]));
            }
        } catch (NumberFormatException e) {
            // falls through to the message below
        }
        throw new IllegalArgumentException("a length is N, MIN:MAX or normal:MEAN:STD, got '" + text + "'");
    }
}
