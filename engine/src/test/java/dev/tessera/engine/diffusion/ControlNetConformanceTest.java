package dev.tessera.engine.diffusion;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tessera.engine.checkpoint.Checkpoint;
import dev.tessera.engine.diffusion.OrtGraph.Input;
import dev.tessera.engine.diffusion.convert.ComponentGraph;
import dev.tessera.engine.diffusion.sampler.Sampler;
import dev.tessera.engine.diffusion.sampler.SamplerKind;
import dev.tessera.engine.diffusion.sampler.Samplers;
import dev.tessera.engine.diffusion.sampler.SchedulerSettings;
import dev.tessera.engine.diffusion.sampler.TorchGenerator;
import dev.tessera.engine.diffusion.unet.ControlNetConfig;
import dev.tessera.engine.diffusion.unet.ControlNetGraph;
import dev.tessera.engine.diffusion.unet.UNetConfig;
import dev.tessera.engine.diffusion.unet.UNetGraph;
import dev.tessera.engine.image.DecodedImage;
import dev.tessera.engine.image.ImageDecoder;
import dev.tessera.engine.image.ImageFormat;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static dev.tessera.engine.diffusion.SdFixtures.controlTensor;
import static dev.tessera.engine.diffusion.SdFixtures.maxAbsDiff;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The ControlNet against diffusers ({@code tools/make_controlnet_fixtures.py}): its residuals for rows at different
 * timesteps and scales, the UNet's noise with them, the guided noise of a CFG pair, the control image's
 * preprocessing, and whole {@code StableDiffusionControlNetPipeline} runs from the same initial latents.
 */
class ControlNetConformanceTest {
    private static final int H = 24;
    private static final int W = 16;

    @TempDir
    static Path cache;
    static DiffusionEngine engine;

    @BeforeAll
    static void load() {
        engine = DiffusionEngine.load(new DiffusionOptions(SdFixtures.PIPELINE, cache, 2, "sd-cn")
                .withControlNet(SdFixtures.CONTROLNET));
    }

    @AfterAll
    static void close() {
        engine.close();
    }

    @Test
    void residualsOfRowsAtDifferentTimestepsAndScalesEqualDiffusers(@TempDir Path dir) {
        ControlNetConfig cfg = ControlNetConfig.read(SdFixtures.CONTROLNET.resolve("config.json"));
        int skips = SdFixtures.controlGolden().get("down_residuals").asInt();
        try (Checkpoint ck = Checkpoint.open(SdFixtures.CONTROLNET);
             OrtGraph g = OrtGraph.open(ComponentGraph.write(ck, dir, ControlNetGraph.NAME,
                     l -> ControlNetGraph.write(l, cfg)), 2)) {
            float[][] out = g.runAll(Input.floats(UNetGraph.SAMPLE, controlTensor("cn.sample"), 3, 4, H, W),
                    Input.floats(UNetGraph.TIMESTEP, controlTensor("cn.timesteps"), 3),
                    Input.floats(UNetGraph.CONTEXT, controlTensor("cn.context"), 3, 77, 32),
                    Input.floats(ControlNetGraph.CONTROL, controlTensor("cn.cond"), 3, 3, 2 * H, 2 * W),
                    Input.floats(ControlNetGraph.SCALE, controlTensor("cn.scales"), 3));
            assertEquals(skips + 1, out.length);
            StringBuilder report = new StringBuilder();
            double worst = 0;
            for (int k = 0; k <= skips; k++) {
                float[] expected = controlTensor(k < skips ? "cn.down" + k : "cn.mid");
                double err = maxAbsDiff(out[k], expected);
                report.append(k < skips ? "down" + k : "mid").append(": ").append(err).append('\n');
                worst = Double.isNaN(err) ? Double.NaN : Math.max(worst, err);
            }
            assertTrue(worst <= 1e-4, report.toString());
        }
    }

    @Test
    void unetWithTheResidualsAddedEqualsDiffusers(@TempDir Path dir) {
        UNetConfig cfg = UNetConfig.read(SdFixtures.PIPELINE.resolve("unet/config.json"));
        int skips = SdFixtures.controlGolden().get("down_residuals").asInt();
        assertEquals(UNetGraph.skipCount(cfg), skips);
        try (Checkpoint ck = Checkpoint.open(SdFixtures.PIPELINE.resolve("unet"));
             OrtGraph g = OrtGraph.open(ComponentGraph.write(ck, dir, UNetGraph.NAME,
                     l -> UNetGraph.writeWithResiduals(l, cfg)), 2)) {
            Input[] in = new Input[3 + skips + 1];
            in[0] = Input.floats(UNetGraph.SAMPLE, controlTensor("cn.sample"), 3, 4, H, W);
            in[1] = Input.floats(UNetGraph.TIMESTEP, controlTensor("cn.timesteps"), 3);
            in[2] = Input.floats(UNetGraph.CONTEXT, controlTensor("cn.context"), 3, 77, 32);
            for (int k = 0; k < skips; k++) {
                in[3 + k] = Input.floats(UNetGraph.DOWN_RESIDUAL + k, controlTensor("cn.down" + k),
                        SdFixtures.controlShape("cn.down" + k));
            }
            in[3 + skips] = Input.floats(UNetGraph.MID_RESIDUAL, controlTensor("cn.mid"),
                    SdFixtures.controlShape("cn.mid"));
            double err = maxAbsDiff(g.run(in), controlTensor("cn.noise"));
            assertTrue(err <= 1e-4, "max error " + err);
        }
    }

    @Test
    void guidedNoiseOfACfgPairThroughControlNetAndUnetEqualsDiffusers() {
        JsonNode guided = SdFixtures.controlGolden().get("guided");
        int per = 4 * H * W;
        int ctx = 77 * 32;
        int row = guided.get("row").asInt();
        float[] sample = new float[2 * per];
        float[] one = Arrays.copyOfRange(controlTensor("cn.sample"), row * per, (row + 1) * per);
        System.arraycopy(one, 0, sample, 0, per);
        System.arraycopy(one, 0, sample, per, per);
        float t = controlTensor("cn.timesteps")[row];
        float[] context = Arrays.copyOf(controlTensor("cn.context"), 2 * ctx); // rows 0 (uncond) and 1 (cond)
        int image = 3 * 2 * H * 2 * W;
        float[] control = new float[2 * image];
        float[] cond = Arrays.copyOfRange(controlTensor("cn.cond"), row * image, (row + 1) * image);
        System.arraycopy(cond, 0, control, 0, image);
        System.arraycopy(cond, 0, control, image, image);
        float scale = (float) guided.get("scale").asDouble();
        float[] timesteps = {t, t};
        float[][] residuals = engine.controlNet(sample, timesteps, context, control, new float[] {scale, scale}, 2,
                H, W);
        float[] noise = engine.denoise(sample, timesteps, context, 2, H, W, residuals);
        float g = (float) guided.get("guidance").asDouble();
        float[] out = new float[per];
        for (int e = 0; e < per; e++) out[e] = noise[e] + g * (noise[per + e] - noise[e]);
        double err = maxAbsDiff(out, controlTensor("cn.guided"));
        assertTrue(err <= 1e-4, "max error " + err);
        // and the residuals matter: without them the guided noise is far from diffusers'
        float[] plain = engine.denoise(sample, timesteps, context, 2, H, W);
        for (int e = 0; e < per; e++) out[e] = plain[e] + g * (plain[per + e] - plain[e]);
        assertTrue(maxAbsDiff(out, controlTensor("cn.guided")) > 1e-2, "the residuals change the noise");
    }

    @Test
    void controlImagePreparationEqualsDiffusersPrepareImageWithinOneLevel() throws IOException {
        JsonNode prepare = SdFixtures.controlGolden().get("prepare");
        for (int i = 0; i < prepare.size(); i++) {
            JsonNode p = prepare.get(i);
            assertEquals("lanczos", p.get("resample").asText());
            float[] got = ControlImage.prepare(decode(p.get("file").asText()), p.get("width").asInt(),
                    p.get("height").asInt());
            double err = maxAbsDiff(got, controlTensor("prepare" + i));
            assertTrue(err <= 1 / 255.0 + 1e-7, p.get("file").asText() + ": max error " + err);
        }
    }

    @Test
    void wholeControlNetPipelineRunsEqualDiffusers() throws IOException {
        JsonNode runs = SdFixtures.controlGolden().get("runs");
        StringBuilder report = new StringBuilder();
        double worst = 0;
        for (int r = 0; r < runs.size(); r++) {
            double err = maxAbsDiff(run(runs.get(r), r), controlTensor("run" + r + ".latents"));
            report.append("run ").append(r).append(' ').append(runs.get(r).get("sampler").asText()).append(": ")
                    .append(err).append('\n');
            worst = Double.isNaN(err) ? Double.NaN : Math.max(worst, err);
        }
        assertTrue(worst <= 1e-4, report.toString());
    }

    @Test
    void controlledRowsGiveTheSameNoiseAloneAndPackedAheadOfPlainRows() {
        // a ControlNet job's CFG pair, alone and then packed with a plain job's row at another timestep: the
        // ControlNet runs over the first two rows only, the plain row gets zero residuals
        int per = 4 * H * W;
        int ctx = 77 * 32;
        int image = 3 * 2 * H * 2 * W;
        float[] sample = Arrays.copyOf(controlTensor("cn.sample"), 3 * per);
        System.arraycopy(sample, 0, sample, per, per);                 // rows 0 and 1: the same latents (CFG)
        float[] timesteps = {500.5f, 500.5f, 10f};
        float[] context = controlTensor("cn.context");
        float[] control = new float[2 * image];
        System.arraycopy(controlTensor("cn.cond"), 0, control, 0, image);
        System.arraycopy(control, 0, control, image, image);
        float[] scales = {0.8f, 0.8f};
        float[][] res = engine.controlNet(sample, timesteps, context, control, scales, 2, H, W);
        float[] alone = engine.denoise(sample, timesteps, context, 2, H, W, res);
        float[][] packed = new float[res.length][];
        for (int k = 0; k < res.length; k++) packed[k] = Arrays.copyOf(res[k], res[k].length / 2 * 3); // zeros
        float[] batched = engine.denoise(sample, timesteps, context, 3, H, W, packed);
        double err = maxAbsDiff(Arrays.copyOf(batched, 2 * per), alone);
        assertTrue(err <= 1e-5, "controlled rows: max difference " + err);
        float[] plainAlone = engine.denoise(Arrays.copyOfRange(sample, 2 * per, 3 * per), new float[] {10f},
                Arrays.copyOfRange(context, 2 * ctx, 3 * ctx), 1, H, W);
        err = maxAbsDiff(Arrays.copyOfRange(batched, 2 * per, 3 * per), plainAlone);
        assertTrue(err <= 1e-5, "plain row: max difference " + err);
    }

    private float[] run(JsonNode run, int index) throws IOException {
        SamplerKind kind = SamplerKind.byName(run.get("sampler").asText()).orElseThrow();
        SchedulerSettings settings = SchedulerSettings.read(DiffusersLayout.readJson(
                SdFixtures.PIPELINE.resolve("scheduler/scheduler_config.json")), Path.of("scheduler_config.json"),
                kind);
        int n = run.get("num_images").asInt();
        int width = run.get("width").asInt();
        int height = run.get("height").asInt();
        int h = height / engine.info().vaeScale();
        int w = width / engine.info().vaeScale();
        int per = 4 * h * w;
        float[] latents = new float[n * per];
        TorchGenerator gen = new TorchGenerator(run.get("seed").asLong());
        gen.randn(latents);
        assertTrue(maxAbsDiff(latents, controlTensor("run" + index + ".init")) <= 1e-5, "init");
        Sampler sampler = Samplers.create(settings, run.get("steps").asInt(), latents.length);
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
        float[] one = ControlImage.prepare(decode(run.get("control_image").asText()), width, height);
        float[] control = new float[rows * one.length];
        for (int row = 0; row < rows; row++) System.arraycopy(one, 0, control, row * one.length, one.length);
        float[] scales = new float[rows];
        Arrays.fill(scales, (float) run.get("control_scale").asDouble());
        float[] input = new float[rows * per];
        float[] timesteps = new float[rows];
        float[] guided = new float[n * per];
        for (int i = 0; i < sampler.steps(); i++) {
            sampler.scaleInput(i, latents, input, 0);
            if (cfg) System.arraycopy(input, 0, input, n * per, n * per);
            Arrays.fill(timesteps, sampler.timestep(i));
            float[][] res = engine.controlNet(input, timesteps, context, control, scales, rows, h, w);
            float[] noise = engine.denoise(input, timesteps, context, rows, h, w, res);
            if (cfg) {
                for (int e = 0; e < n * per; e++) guided[e] = noise[e] + guidance * (noise[n * per + e] - noise[e]);
            } else {
                System.arraycopy(noise, 0, guided, 0, n * per);
            }
            sampler.step(i, guided, 0, latents, gen);
        }
        return latents;
    }

    private static DecodedImage decode(String file) throws IOException {
        byte[] png = Files.readAllBytes(SdFixtures.ROOT.resolve(file));
        return new ImageDecoder(1 << 20).decode(png, ImageFormat.PNG, 0, 0, "control_image");
    }
}
