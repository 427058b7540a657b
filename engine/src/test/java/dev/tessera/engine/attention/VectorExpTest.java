package dev.tessera.engine.attention;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

class VectorExpTest {
    @Test
    void matchesMathExpOnNonPositiveInputs() {
        int lanes = VectorExp.SPECIES.length();
        float[] x = new float[lanes];
        float[] y = new float[lanes];
        double worst = 0;
        for (int i = 0; i <= 200_000; i += lanes) {
            for (int k = 0; k < lanes; k++) x[k] = -(i + k) * 80f / 200_000; // below about -87 results leave the normal range
            VectorExp.expNonPositive(FloatVector.fromArray(VectorExp.SPECIES, x, 0)).intoArray(y, 0);
            for (int k = 0; k < lanes; k++) {
                double want = Math.exp(x[k]);
                worst = Math.max(worst, Math.abs(y[k] - want) / want);
                assertEquals(want, VectorExp.expNonPositive(x[k]), want * 1e-6);
            }
        }
        assertTrue(worst < 1e-6, "worst relative error " + worst);
    }

    @Test
    void edges() {
        assertEquals(1f, VectorExp.expNonPositive(0f));
        assertEquals(1f, VectorExp.expNonPositive(-0f));
        assertTrue(VectorExp.expNonPositive(-1000f) < 1e-37f);
        assertTrue(VectorExp.expNonPositive(Float.NEGATIVE_INFINITY) < 1e-37f);
    }
}
