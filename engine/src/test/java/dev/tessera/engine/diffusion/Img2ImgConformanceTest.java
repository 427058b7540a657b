package dev.tessera.engine.diffusion;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tessera.engine.diffusion.sampler.Sampler;
import dev.tessera.engine.diffusion.sampler.SamplerKind;
import dev.tessera.engine.diffusion.sampler.Samplers;
import dev.tessera.engine.diffusion.sampler.TorchGenerator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Image-to-image against {@code StableDiffusionImg2ImgPipeline(..., output_type="latent")}: the VAE encoder's
 * posterior sampled with the seed's generator, noised to the start step of {@code strength} by the sampler's
 * {@code add_noise}, then denoised over the remaining steps, ends at diffusers' latents.
 */
class Img2ImgConformanceTest {
    @Test
    void everyImg2ImgRunEqualsDiffusers(@TempDir Path cache) {
        try (DiffusionEngine engine = DiffusionEngine.load(new DiffusionOptions(SdFixtures.PIPELINE, cache, 2))) {
            JsonNode runs = SdFixtures.golden().get("img2img");
            float[] image = SdFixtures.tensor("img2img.image");
            StringBuilder report = new StringBuilder();
            double worst = 0;
            for (int r = 0; r < runs.size(); r++) {
                JsonNode run = runs.get(r);
                float[] got = run(engine, run, image);
                double err = SdFixtures.maxAbsDiff(got, SdFixtures.tensor("img2img" + r + ".latents"));
                report.append(String.format("img2img %d %s: %.3g%n", r, run.get("sampler").asText(), err));
                worst = Double.isNaN(err) ? Double.NaN : Math.max(worst, err);
            }
            assertTrue(worst <= 1e-4, report.toString());
        }
    }

    private static float[] run(DiffusionEngine engine, JsonNode run, float[] image) {
        SamplerKind kind = SamplerKind.byName(run.get("sampler").asText()).orElseThrow();
        int steps = run.get("steps").asInt();
        int c = engine.info().latentChannels();
        int h = 48 / engine.info().vaeScale();
        int w = 32 / engine.info().vaeScale();
        int per = c * h * w;
        TorchGenerator gen = new TorchGenerator(run.get("seed").asLong());
        float[] latents = engine.encodeImage(image, 1, 48, 32, gen);
        float[] noise = new float[per];
        gen.randn(noise);
        Sampler sampler = Samplers.create(engine.scheduler(kind), steps, per);
        int start = Sampler.startStep(steps, run.get("strength").asDouble());
        sampler.addNoise(start, latents, noise);
        float guidance = (float) run.get("guidance").asDouble();
        boolean cfg = guidance > 1;
        int rows = cfg ? 2 : 1;
        int size = engine.info().contextLength() * engine.info().contextDim();
        float[] embeds = engine.encodeText(new int[][] {
                engine.tokenizer().encode(run.get("negative_prompt").asText()),
                engine.tokenizer().encode(run.get("prompt").asText())});
        float[] context = cfg ? embeds : Arrays.copyOfRange(embeds, size, 2 * size);
        float[] input = new float[rows * per];
        float[] guided = new float[per];
        for (int i = start; i < steps; i++) {
            sampler.scaleInput(i, latents, input, 0);
            if (cfg) System.arraycopy(input, 0, input, per, per);
            float[] t = new float[rows];
            Arrays.fill(t, sampler.timestep(i));
            float[] out = engine.denoise(input, t, context, rows, h, w);
            for (int e = 0; e < per; e++) guided[e] = cfg ? out[e] + guidance * (out[per + e] - out[e]) : out[e];
            sampler.step(i, guided, 0, latents, gen);
        }
        return latents;
    }
}
