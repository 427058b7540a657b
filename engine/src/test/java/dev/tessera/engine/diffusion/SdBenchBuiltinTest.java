package dev.tessera.engine.diffusion;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.builtin.BuiltinModels;
import dev.tessera.engine.diffusion.unet.UNetConfig;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * builtin:sd-bench (SD 1.5's UNet structure at a fifth of the width, random weights) passes the converter's shape
 * checks on every tensor, and its UNet and VAE run at the diffusion benchmark's sizes, one row and two rows at
 * different timesteps, with finite outputs.
 */
class SdBenchBuiltinTest {
    @Test
    void theBenchPipelineConvertsAndRuns(@TempDir Path cache) {
        Path dir = BuiltinModels.materialize("sd-bench", cache);
        UNetConfig unet = UNetConfig.read(dir.resolve("unet/config.json"));
        assertEquals(4, unet.blockOut().length);
        assertTrue(unet.crossDown()[0] && unet.crossDown()[2] && !unet.crossDown()[3], "SD 1.5's block types");
        assertEquals(2, unet.layersPerBlock());
        try (DiffusionEngine engine = DiffusionEngine.load(new DiffusionOptions(dir, cache, 2))) {
            DiffusionInfo info = engine.info();
            assertEquals(8, info.vaeScale());
            int h = 16;
            int w = 24;
            int per = info.latentChannels() * h * w;
            float[] ctx = engine.encodeText(new int[][] {engine.tokenizer().encode("a red fox"),
                engine.tokenizer().encode("")});
            float[] sample = new float[2 * per];
            new dev.tessera.engine.diffusion.sampler.TorchGenerator(3).randn(sample);
            float[] noise = engine.denoise(sample, new float[] {999, 10}, ctx, 2, h, w);
            assertEquals(2 * per, noise.length);
            float[] alone = engine.denoise(sample, new float[] {999}, ctx, 1, h, w);
            for (int i = 0; i < per; i++) {
                assertTrue(Float.isFinite(noise[i]) && Float.isFinite(noise[per + i]));
                assertEquals(alone[i], noise[i], 1e-4f, "row 0 alone and batched");
            }
            assertTrue(!Arrays.equals(Arrays.copyOf(noise, per), Arrays.copyOfRange(noise, per, 2 * per)),
                    "rows at different timesteps and prompts differ");
            float[] image = engine.decode(Arrays.copyOf(sample, per), 1, h, w);
            assertEquals(3 * 8 * h * 8 * w, image.length);
            for (float v : image) assertTrue(Float.isFinite(v) && v >= 0 && v <= 1);
        }
    }
}
