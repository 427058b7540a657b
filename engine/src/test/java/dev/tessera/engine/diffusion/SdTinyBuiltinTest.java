package dev.tessera.engine.diffusion;

import dev.tessera.builtin.BuiltinModels;
import dev.tessera.engine.diffusion.sampler.Sampler;
import dev.tessera.engine.diffusion.sampler.SamplerKind;
import dev.tessera.engine.diffusion.sampler.Samplers;
import dev.tessera.engine.diffusion.sampler.TorchGenerator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** builtin:sd-tiny (random weights, generated in Java) loads, converts and denoises to a finite, varied image. */
class SdTinyBuiltinTest {
    @Test
    void theBuiltinPipelineRunsEndToEnd(@TempDir Path cache) {
        Path dir = BuiltinModels.materialize("sd-tiny", cache);
        assertEquals(dev.tessera.engine.CheckpointKind.DIFFUSION, dev.tessera.engine.CheckpointKind.of(dir));
        try (DiffusionEngine engine = DiffusionEngine.load(new DiffusionOptions(dir, cache, 2))) {
            DiffusionInfo info = engine.info();
            assertEquals(64, info.defaultSize());
            dev.tessera.engine.diffusion.unet.UNetConfig unet = dev.tessera.engine.diffusion.unet.UNetConfig.read(
                    dir.resolve("unet/config.json"));
            // materialised scores: 4 heads x 64² at the attention level of 16x16 latents (8x8); flash: the q/k/v
            // copies, 3 x 64 positions x 64 channels
            assertEquals(4L * 64 * 64 * 4, unet.attentionBytes(16, 16, false), "16x16 latents: 8x8 at the level");
            assertEquals(3L * 64 * 64 * 4, unet.attentionBytes(16, 16, true));
            // the VAE's single-head mid-block attention over all 32x32 latent positions (32 channels) dominates
            long vae = engine.flashAttention() ? 3L * 1024 * 32 * 4 : 1024L * 1024 * 4;
            assertEquals(vae, engine.attentionBytes(32, 32));
            int side = info.defaultSize() / info.vaeScale();
            int per = info.latentChannels() * side * side;
            float[] ctx = engine.encodeText(new int[][] {engine.tokenizer().encode(""),
                    engine.tokenizer().encode("a photo of a red fox in the snow")});
            float[] context = Arrays.copyOf(ctx, ctx.length);
            Sampler sampler = Samplers.create(engine.scheduler(SamplerKind.EULER_ANCESTRAL), 3, per);
            float[] latents = new float[per];
            TorchGenerator gen = new TorchGenerator(5);
            gen.randn(latents);
            for (int i = 0; i < per; i++) latents[i] *= sampler.initNoiseSigma();
            float[] input = new float[2 * per];
            float[] guided = new float[per];
            for (int s = 0; s < sampler.steps(); s++) {
                sampler.scaleInput(s, latents, input, 0);
                System.arraycopy(input, 0, input, per, per);
                float t = sampler.timestep(s);
                float[] noise = engine.denoise(input, new float[] {t, t}, context, 2, side, side);
                for (int e = 0; e < per; e++) guided[e] = noise[e] + 7.5f * (noise[per + e] - noise[e]);
                sampler.step(s, guided, 0, latents, gen);
            }
            float[] image = engine.decode(latents, 1, side, side);
            assertEquals(3 * 64 * 64, image.length);
            float min = Float.MAX_VALUE;
            float max = -Float.MAX_VALUE;
            for (float v : image) {
                assertTrue(Float.isFinite(v));
                min = Math.min(min, v);
                max = Math.max(max, v);
            }
            assertTrue(min >= 0 && max <= 1 && max - min > 0.01, "pixels in [" + min + ", " + max + "]");
        }
        try (DiffusionEngine again = DiffusionEngine.load(new DiffusionOptions(dir, cache, 1))) {
            assertEquals("builtin-sd-tiny-v1", again.info().name(), "served under the directory's name by default");
        }
    }

    /** No graph but CLIP's (77 tokens, causal) materialises attention scores: no Softmax, the contrib op instead. */
    @Test
    void unetAndVaeAttentionIsTheFlashContribOp(@TempDir Path cache) throws Exception {
        Path dir = BuiltinModels.materialize("sd-tiny", cache);
        DiffusionEngine.load(new DiffusionOptions(dir, cache, 1)).close();
        java.util.List<Path> graphs;
        try (java.util.stream.Stream<Path> files = java.nio.file.Files.walk(cache.resolve("graphs"))) {
            graphs = files.filter(f -> f.toString().endsWith(".onnx")).toList();
        }
        assertEquals(4, graphs.size(), graphs.toString());
        for (Path g : graphs) {
            dev.tessera.engine.onnx.proto.ModelProto m = dev.tessera.engine.onnx.proto.ModelProto.parseFrom(
                    java.nio.file.Files.readAllBytes(g));
            long softmax = m.getGraph().getNodeList().stream().filter(n -> n.getOpType().equals("Softmax")).count();
            long mha = m.getGraph().getNodeList().stream()
                    .filter(n -> n.getOpType().equals("MultiHeadAttention") && n.getDomain().equals("com.microsoft"))
                    .count();
            String name = g.getFileName().toString();
            switch (name) {
                // 4 transformers (down 1, mid, up 0 twice), each self- and cross-attention
                case "unet.onnx" -> assertEquals(8, mha, name);
                case "vae_decoder.onnx", "vae_encoder.onnx" -> assertEquals(1, mha, name);
                case "text_encoder.onnx" -> assertEquals(2, softmax, name + ": CLIP keeps its masked attention");
                default -> throw new AssertionError("unexpected graph " + name);
            }
            if (!name.equals("text_encoder.onnx")) assertEquals(0, softmax, name);
        }
    }
}
