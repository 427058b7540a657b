package dev.tessera.engine.diffusion;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tessera.engine.diffusion.sampler.Sampler;
import dev.tessera.engine.diffusion.sampler.SamplerKind;
import dev.tessera.engine.diffusion.sampler.Samplers;
import dev.tessera.engine.diffusion.sampler.SchedulerSettings;
import dev.tessera.engine.diffusion.sampler.TorchGenerator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Iterator;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Whole text-to-image runs against {@code StableDiffusionPipeline(..., output_type="latent")}: the same prompt and
 * negative prompt, seed, steps, guidance and sampler give the same final latents, from torch's initial noise drawn
 * here from the seed; and the VAE decodes them to diffusers' image.
 */
class PipelineConformanceTest {
    @TempDir
    static Path cache;
    static DiffusionEngine engine;

    @BeforeAll
    static void load() {
        engine = DiffusionEngine.load(new DiffusionOptions(SdFixtures.PIPELINE, cache, 2));
    }

    @AfterAll
    static void close() {
        engine.close();
    }

    @Test
    void everySamplerRunEqualsDiffusers() {
        JsonNode runs = SdFixtures.golden().get("runs");
        StringBuilder report = new StringBuilder();
        double worst = 0;
        for (int r = 0; r < runs.size(); r++) {
            JsonNode run = runs.get(r);
            float[] expected = SdFixtures.tensor("run" + r + ".latents");
            float[] got = run(run, r);
            double err = SdFixtures.maxAbsDiff(got, expected);
            report.append(String.format("run %d %s %s: %.3g%n", r, run.get("sampler").asText(), run.get("config"), err));
            worst = Double.isNaN(err) ? Double.NaN : Math.max(worst, err);
        }
        assertTrue(worst <= 1e-4, report.toString());
    }

    private float[] run(JsonNode run, int index) {
        ObjectNode config = (ObjectNode) DiffusersLayout.readJson(
                SdFixtures.PIPELINE.resolve("scheduler/scheduler_config.json"));
        for (Iterator<Map.Entry<String, JsonNode>> it = run.get("config").fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            config.set(e.getKey(), e.getValue());
        }
        SamplerKind kind = SamplerKind.byName(run.get("sampler").asText()).orElseThrow();
        SchedulerSettings settings = SchedulerSettings.read(config, Path.of("scheduler_config.json"), kind);
        int n = run.get("num_images").asInt();
        int c = engine.info().latentChannels();
        int h = run.get("height").asInt() / engine.info().vaeScale();
        int w = run.get("width").asInt() / engine.info().vaeScale();
        int per = c * h * w;
        float[] latents = new float[n * per];
        TorchGenerator gen = new TorchGenerator(run.get("seed").asLong());
        gen.randn(latents);
        assertTrue(SdFixtures.maxAbsDiff(latents, SdFixtures.tensor("run" + index + ".init")) <= 1e-5, "init");
        Sampler sampler = Samplers.create(settings, run.get("steps").asInt(), latents.length);
        for (int i = 0; i < sampler.steps(); i++) {
            assertEquals(run.get("timesteps").get(i).asDouble(), sampler.timestep(i), 1e-3, "timestep " + i);
        }
        for (int e = 0; e < latents.length; e++) latents[e] *= sampler.initNoiseSigma();
        float guidance = (float) run.get("guidance").asDouble();
        boolean cfg = guidance > 1;
        int rows = cfg ? 2 * n : n;
        int len = engine.info().contextLength();
        int dim = engine.info().contextDim();
        float[] embeds = engine.encodeText(new int[][] {
                engine.tokenizer().encode(run.get("negative_prompt").asText()),
                engine.tokenizer().encode(run.get("prompt").asText())});
        float[] context = new float[rows * len * dim];
        for (int row = 0; row < rows; row++) {
            int src = cfg && row < n ? 0 : 1;
            System.arraycopy(embeds, src * len * dim, context, row * len * dim, len * dim);
        }
        float[] input = new float[rows * per];
        float[] timesteps = new float[rows];
        float[] guided = new float[n * per];
        for (int i = 0; i < sampler.steps(); i++) {
            sampler.scaleInput(i, latents, input, 0);
            if (cfg) System.arraycopy(input, 0, input, n * per, n * per);
            java.util.Arrays.fill(timesteps, sampler.timestep(i));
            float[] noise = engine.denoise(input, timesteps, context, rows, h, w);
            if (cfg) {
                for (int e = 0; e < n * per; e++) {
                    float u = noise[e];
                    guided[e] = u + guidance * (noise[n * per + e] - u);
                }
            } else {
                System.arraycopy(noise, 0, guided, 0, n * per);
            }
            sampler.step(i, guided, 0, latents, gen);
        }
        return latents;
    }

    @Test
    void vaeDecodesTheFirstRunsLatentsToDiffusersImage() {
        long[] shape = SdFixtures.shape("run0.latents");
        float[] image = engine.decode(SdFixtures.tensor("run0.latents"), (int) shape[0], (int) shape[2],
                (int) shape[3]);
        double err = SdFixtures.maxAbsDiff(image, SdFixtures.tensor("vae.image"));
        assertTrue(err <= 1 / 255.0, "max error " + err);
    }
}
