package dev.tessera.engine.diffusion.sampler;

import dev.tessera.engine.diffusion.SdFixtures;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertTrue;

class TorchGeneratorTest {
    @Test
    void randnEqualsTorchForTheSameSeed() {
        for (long seed : new long[] {7, 123456789, (1L << 40) + 3}) {
            float[] expected = SdFixtures.tensor("randn." + seed);
            float[] got = new float[expected.length];
            new TorchGenerator(seed).randn(got);
            double err = SdFixtures.maxAbsDiff(got, expected);
            assertTrue(err <= 1e-5, "seed " + seed + ": max error " + err);
        }
    }

    @Test
    void flowMatchEulerEqualsDiffusers() {
        var flows = SdFixtures.golden().get("flow");
        for (int i = 0; i < flows.size(); i++) {
            var f = flows.get(i);
            FlowMatchEulerSampler s = new FlowMatchEulerSampler(1000, f.get("shift").asDouble(), f.get("steps").asInt());
            for (int k = 0; k < s.steps(); k++) {
                assertTrue(Math.abs(s.timestep(k) - f.get("timesteps").get(k).asDouble()) <= 1e-3, "timestep " + k);
                assertTrue(Math.abs(s.sigma(k) - f.get("sigmas").get(k).asDouble()) <= 1e-6, "sigma " + k);
            }
            float[] x = SdFixtures.tensor("flow" + i + ".init");
            float[] v = new float[x.length];
            for (int k = 0; k < s.steps(); k++) {
                float sigma = s.sigma(k);
                for (int e = 0; e < x.length; e++) v[e] = 0.5f * x[e] - sigma;
                s.step(k, v, x);
            }
            double err = SdFixtures.maxAbsDiff(x, SdFixtures.tensor("flow" + i + ".final"));
            assertTrue(err <= 1e-4, "flow " + i + ": max error " + err);
        }
    }
}
