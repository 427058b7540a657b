package dev.tessera.scheduler.diffuse;

import dev.tessera.engine.diffusion.sampler.SamplerKind;
import dev.tessera.engine.diffusion.sampler.SchedulerSettings;
import dev.tessera.engine.diffusion.sampler.TorchGenerator;

import org.jspecify.annotations.Nullable;

import java.util.ArrayList;
import java.util.List;

/**
 * A pipeline whose "UNet" is row-local arithmetic (each row's output depends only on that row's latents, timestep
 * and embedding), so a job's result must not depend on what it is batched with. Records every call.
 */
final class FakePipeline implements DiffusionPipeline {
    static final int LEN = 3;
    static final int DIM = 2;

    /** One UNet call: its rows, latent shape and per-row timesteps. */
    record Call(int rows, int h, int w, float[] timesteps) {
    }

    /** One ControlNet call: its rows, their scales, and the control image values it got. */
    record ControlCall(int rows, float[] scales, int controlValues) {
    }

    final List<Call> calls = new ArrayList<>();
    final List<ControlCall> controlCalls = new ArrayList<>();
    /** Per UNet call, per row: whether the row got a nonzero residual. */
    final List<boolean[]> residualRows = new ArrayList<>();
    private final boolean controlNet;

    /** With a ControlNet. */
    FakePipeline() {
        this(true);
    }

    FakePipeline(boolean controlNet) {
        this.controlNet = controlNet;
    }
    final List<List<String>> encoded = new ArrayList<>();
    final List<Integer> decodes = new ArrayList<>();
    int encodedImages;

    @Override
    public String name() {
        return "fake-sd";
    }

    @Override
    public int latentChannels() {
        return 4;
    }

    @Override
    public int vaeScale() {
        return 8;
    }

    @Override
    public int defaultSize() {
        return 64;
    }

    @Override
    public int contextLength() {
        return LEN;
    }

    @Override
    public int contextDim() {
        return DIM;
    }

    /** Like a single-head attention over every latent position. */
    @Override
    public long attentionBytes(int h, int w) {
        long t = (long) h * w;
        return t * t * Float.BYTES;
    }

    @Override
    public float[] encodeText(List<String> prompts) {
        encoded.add(List.copyOf(prompts));
        float[] out = new float[prompts.size() * LEN * DIM];
        for (int p = 0; p < prompts.size(); p++) {
            for (int i = 0; i < LEN * DIM; i++) out[p * LEN * DIM + i] = (prompts.get(p).hashCode() % 97) / 97f + i;
        }
        return out;
    }

    @Override
    public float[] denoise(float[] sample, float[] timesteps, float[] context, int rows, int h, int w,
                           float @Nullable [][] residuals) {
        calls.add(new Call(rows, h, w, java.util.Arrays.copyOf(timesteps, rows)));
        if (residuals != null && !controlNet) throw new IllegalStateException("no ControlNet");
        int per = 4 * h * w;
        float[] out = new float[rows * per];
        boolean[] got = new boolean[rows];
        for (int r = 0; r < rows; r++) {
            float c = context[r * LEN * DIM] + 0.5f * context[r * LEN * DIM + 1];
            float mid = residuals == null ? 0 : residuals[1][r];
            for (int e = 0; e < per; e++) {
                float down = residuals == null ? 0 : residuals[0][r * per + e];
                got[r] |= down != 0 || mid != 0;
                out[r * per + e] = 0.3f * sample[r * per + e] + 0.001f * timesteps[r] + 0.1f * c + down + mid;
            }
        }
        residualRows.add(got);
        return out;
    }

    @Override
    public boolean hasControlNet() {
        return controlNet;
    }

    /**
     * Row-local too: a "skip" residual {@code [rows, 4, h, w]} (the row's scale times its control image's first
     * pixels plus a little of its latents and timestep) and a "mid" residual of one value per row.
     */
    @Override
    public float[][] controlNet(float[] sample, float[] timesteps, float[] context, float[] control, float[] scales,
                                int rows, int h, int w) {
        if (!controlNet) throw new IllegalStateException("no ControlNet");
        int image = 3 * 8 * h * 8 * w;
        controlCalls.add(new ControlCall(rows, java.util.Arrays.copyOf(scales, rows), rows * image));
        int per = 4 * h * w;
        float[] down = new float[rows * per];
        float[] mid = new float[rows];
        for (int r = 0; r < rows; r++) {
            for (int e = 0; e < per; e++) {
                down[r * per + e] = scales[r] * (0.05f * control[r * image + e * 7 % image]
                        + 0.01f * sample[r * per + e] + 1e-5f * timesteps[r] + 0.01f * context[r * LEN * DIM]);
            }
            mid[r] = scales[r] * 0.02f;
        }
        return new float[][] {down, mid};
    }

    /** The mean of each 8x8 patch per channel (4th channel zero), plus the posterior's noise as diffusers draws it. */
    @Override
    public float[] encodeImage(float[] pixels, int height, int width, TorchGenerator generator) {
        encodedImages++;
        int h = height / 8;
        int w = width / 8;
        float[] out = new float[4 * h * w];
        generator.randn(new float[out.length]);
        for (int c = 0; c < 3; c++) {
            for (int y = 0; y < height; y++) {
                for (int x = 0; x < width; x++) {
                    out[(c * h + y / 8) * w + x / 8] += pixels[(c * height + y) * width + x] / 64f;
                }
            }
        }
        return out;
    }

    @Override
    public float[] decode(float[] latents, int n, int h, int w) {
        decodes.add(n);
        int H = 8 * h;
        int W = 8 * w;
        float[] out = new float[n * 3 * H * W];
        for (int i = 0; i < n; i++) {
            for (int c = 0; c < 3; c++) {
                for (int y = 0; y < H; y++) {
                    for (int x = 0; x < W; x++) {
                        float v = latents[((i * 4 + c) * h + y / 8) * w + x / 8];
                        out[((i * 3 + c) * H + y) * W + x] = 1f / (1f + (float) Math.exp(-v));
                    }
                }
            }
        }
        return out;
    }

    @Override
    public SchedulerSettings scheduler(SamplerKind kind) {
        float[] betas = new float[1000];
        for (int i = 0; i < betas.length; i++) {
            float s = (float) Math.sqrt(0.00085) + i * (float) ((Math.sqrt(0.012) - Math.sqrt(0.00085)) / 999);
            betas[i] = s * s;
        }
        return new SchedulerSettings(kind, 1000, betas, "epsilon", kind == SamplerKind.EULER ? "leading" : "leading",
                1, false, kind == SamplerKind.DDIM, 1f, false, kind == SamplerKind.DPMPP_2M_KARRAS, true, true,
                false, 50, 10f);
    }
}
