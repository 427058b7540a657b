package dev.tessera.engine.attention;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * exp(x) for {@code x <= 0} on whole vectors: Cephes' expf range reduction and polynomial (relative error about
 * 2e-7), built only from lane operations that C2 compiles to SIMD on JDK 17 too: rounding uses the 1.5 * 2^23 trick
 * and 2^n is made by shifting the integer bits, so there is no float/int conversion (not intrinsified on 17) and no
 * reliance on SVML stubs. Inputs below -87 give about 1e-38 instead of 0, which is harmless in a softmax.
 */
final class VectorExp {
    static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;

    private static final float LOG2E = 1.44269504088896341f;
    private static final float C1 = 0.693359375f;
    private static final float C2 = -2.12194440e-4f;
    private static final float P0 = 1.9875691500e-4f;
    private static final float P1 = 1.3981999507e-3f;
    private static final float P2 = 8.3334519073e-3f;
    private static final float P3 = 4.1665795894e-2f;
    private static final float P4 = 1.6666665459e-1f;
    private static final float P5 = 5.0000001201e-1f;
    private static final float MIN_X = -87.0f;
    private static final float ROUNDER = 12582912f; // 1.5 * 2^23

    private VectorExp() {
    }

    /** exp of every lane of {@code x}, each lane {@code <= 0}. */
    static FloatVector expNonPositive(FloatVector x) {
        x = x.max(MIN_X).min(0f);
        // t = round(x * log2e) + 1.5 * 2^23: the low mantissa bits of t hold n, and t - 1.5 * 2^23 is n as a float
        FloatVector t = x.fma(LOG2E, ROUNDER);
        FloatVector nf = t.sub(ROUNDER);
        FloatVector r = x.sub(nf.mul(C1)).sub(nf.mul(C2));
        FloatVector p = r.fma(P0, P1).fma(r, FloatVector.broadcast(SPECIES, P2));
        p = p.fma(r, FloatVector.broadcast(SPECIES, P3));
        p = p.fma(r, FloatVector.broadcast(SPECIES, P4));
        p = p.fma(r, FloatVector.broadcast(SPECIES, P5));
        FloatVector e = p.fma(r.mul(r), r).add(1f);
        // 2^n: (bits(t) + 127) << 23; the rounder's own bits shift out because its low 9 bits are 0
        IntVector bits = t.reinterpretAsInts();
        FloatVector pow2 = bits.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        return e.mul(pow2);
    }

    /** Scalar twin of {@link #expNonPositive} for tails, so every lane of a row is computed the same way. */
    static float expNonPositive(float x) {
        x = Math.min(Math.max(x, MIN_X), 0f);
        float nf = (float) Math.rint(x * LOG2E);
        int n = (int) nf;
        float r = x - nf * C1 - nf * C2;
        float p = Math.fma(r, P0, P1);
        p = Math.fma(p, r, P2);
        p = Math.fma(p, r, P3);
        p = Math.fma(p, r, P4);
        p = Math.fma(p, r, P5);
        float e = Math.fma(p, r * r, r) + 1f;
        return e * Float.intBitsToFloat((n + 127) << 23);
    }
}
