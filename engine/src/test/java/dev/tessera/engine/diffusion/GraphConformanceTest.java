package dev.tessera.engine.diffusion;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tessera.engine.checkpoint.Checkpoint;
import dev.tessera.engine.diffusion.OrtGraph.Input;
import dev.tessera.engine.diffusion.clip.ClipTextConfig;
import dev.tessera.engine.diffusion.clip.ClipTextGraph;
import dev.tessera.engine.diffusion.convert.ComponentGraph;
import dev.tessera.engine.diffusion.unet.UNetConfig;
import dev.tessera.engine.diffusion.unet.UNetGraph;
import dev.tessera.engine.diffusion.vae.VaeConfig;
import dev.tessera.engine.diffusion.vae.VaeGraphs;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Arrays;

import static dev.tessera.engine.diffusion.SdFixtures.maxAbsDiff;
import static dev.tessera.engine.diffusion.SdFixtures.shape;
import static dev.tessera.engine.diffusion.SdFixtures.tensor;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Each converted component against diffusers / transformers on the same inputs. */
class GraphConformanceTest {
    @TempDir
    Path dir;

    @Test
    void clipTextEncoderEqualsTransformers() {
        Path te = SdFixtures.PIPELINE.resolve("text_encoder");
        ClipTextConfig cfg = ClipTextConfig.read(te.resolve("config.json"));
        JsonNode prompts = SdFixtures.golden().get("tokenizer");
        long[] ids = new long[4 * 77];
        for (int p = 0; p < 4; p++) {
            for (int i = 0; i < 77; i++) ids[p * 77 + i] = prompts.get(p).get("ids").get(i).asLong();
        }
        try (Checkpoint ck = Checkpoint.open(te);
             OrtGraph g = OrtGraph.open(ComponentGraph.write(ck, dir, ClipTextGraph.NAME,
                     l -> ClipTextGraph.write(l, cfg)), 2)) {
            float[] hidden = g.run(Input.longs(ClipTextGraph.IDS, ids, 4, 77));
            double err = maxAbsDiff(hidden, tensor("text_encoder.hidden"));
            assertTrue(err <= 1e-4, "max error " + err);
        }
    }

    @Test
    void unetWithOneTimestepPerRowEqualsDiffusers() {
        double err = unet(SdFixtures.PIPELINE.resolve("unet"), "unet");
        assertTrue(err <= 1e-4, "max error " + err);
    }

    @Test
    void aRowGivesTheSameNoiseAloneAndBatchedWithRowsAtOtherTimesteps() {
        Path unetDir = SdFixtures.PIPELINE.resolve("unet");
        UNetConfig cfg = UNetConfig.read(unetDir.resolve("config.json"));
        float[] sample = tensor("unet.sample");
        float[] t = tensor("unet.timesteps");
        float[] ctx = tensor("unet.context");
        int per = sample.length / 3;
        int ctxPer = ctx.length / 3;
        try (Checkpoint ck = Checkpoint.open(unetDir);
             OrtGraph g = OrtGraph.open(ComponentGraph.write(ck, dir, UNetGraph.NAME, l -> UNetGraph.write(l, cfg)),
                     2)) {
            float[] batched = g.run(Input.floats(UNetGraph.SAMPLE, sample, 3, 4, 24, 16),
                    Input.floats(UNetGraph.TIMESTEP, t, 3), Input.floats(UNetGraph.CONTEXT, ctx, 3, 77, 32));
            float[] alone = g.run(Input.floats(UNetGraph.SAMPLE, Arrays.copyOfRange(sample, per, 2 * per), 1, 4, 24, 16),
                    Input.floats(UNetGraph.TIMESTEP, new float[] {t[1]}, 1),
                    Input.floats(UNetGraph.CONTEXT, Arrays.copyOfRange(ctx, ctxPer, 2 * ctxPer), 1, 77, 32));
            double err = maxAbsDiff(alone, Arrays.copyOfRange(batched, per, 2 * per));
            // torch itself differs by 3.9e-7 between the two (golden unet_row_alone_vs_batched_max_diff)
            assertTrue(err <= 1e-5, "max difference " + err);
        }
    }

    @Test
    void linearProjectionUnetAtOddLatentSizesEqualsDiffusers() {
        double err = unet(SdFixtures.UNET_LINEAR, "unet_linear");
        assertTrue(err <= 1e-4, "max error " + err);
    }

    @Test
    void vaeDecoderEqualsDiffusersWithinOneLevel() {
        Path vae = SdFixtures.PIPELINE.resolve("vae");
        VaeConfig cfg = VaeConfig.read(vae.resolve("config.json"));
        try (Checkpoint ck = Checkpoint.open(vae);
             OrtGraph g = OrtGraph.open(ComponentGraph.write(ck, dir, VaeGraphs.DECODER,
                     l -> VaeGraphs.writeDecoder(l, cfg)), 2)) {
            float[] image = g.run(Input.floats(VaeGraphs.LATENTS, tensor("run0.latents"), shape("run0.latents")));
            double err = maxAbsDiff(image, tensor("vae.image"));
            assertTrue(err <= 1 / 255.0, "max error " + err);
        }
    }

    @Test
    void vaeEncoderMeanEqualsDiffusers() {
        Path vae = SdFixtures.PIPELINE.resolve("vae");
        VaeConfig cfg = VaeConfig.read(vae.resolve("config.json"));
        try (Checkpoint ck = Checkpoint.open(vae);
             OrtGraph g = OrtGraph.open(ComponentGraph.write(ck, dir, VaeGraphs.ENCODER,
                     l -> VaeGraphs.writeEncoder(l, cfg)), 2)) {
            float[] moments = g.run(Input.floats(VaeGraphs.PIXELS, tensor("vae_enc.image"), shape("vae_enc.image")));
            float[] mean = Arrays.copyOf(moments, moments.length / 2); // batch 1: the first C channels
            double err = maxAbsDiff(mean, tensor("vae_enc.mean"));
            assertTrue(err <= 1e-4, "max error " + err);
        }
    }

    private double unet(Path unetDir, String prefix) {
        UNetConfig cfg = UNetConfig.read(unetDir.resolve("config.json"));
        try (Checkpoint ck = Checkpoint.open(unetDir);
             OrtGraph g = OrtGraph.open(ComponentGraph.write(ck, dir, UNetGraph.NAME, l -> UNetGraph.write(l, cfg)),
                     2)) {
            float[] out = g.run(Input.floats(UNetGraph.SAMPLE, tensor(prefix + ".sample"), shape(prefix + ".sample")),
                    Input.floats(UNetGraph.TIMESTEP, tensor(prefix + ".timesteps"), shape(prefix + ".timesteps")),
                    Input.floats(UNetGraph.CONTEXT, tensor(prefix + ".context"), shape(prefix + ".context")));
            return maxAbsDiff(out, tensor(prefix + ".out"));
        }
    }
}
