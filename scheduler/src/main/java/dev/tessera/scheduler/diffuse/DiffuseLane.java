package dev.tessera.scheduler.diffuse;

import dev.tessera.scheduler.core.JobEvent;
import dev.tessera.scheduler.core.JobEvent.FinishReason;
import dev.tessera.scheduler.core.JobFailure;
import dev.tessera.scheduler.core.Lane;
import dev.tessera.scheduler.core.Listeners;
import dev.tessera.scheduler.core.ModelKind;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * A diffusion model's lane: step-level continuous batching. Each step takes the running jobs of one latent shape
 * (the shape of the job that has waited longest, so shapes take turns), in arrival order up to the row budget (the
 * first job always runs, even alone over budget), and builds <b>one</b> UNet call from their rows: per job its
 * unconditional rows then its conditional rows under guidance (scale &gt; 1), its conditional rows only otherwise,
 * each row with its own timestep (the job's current step) and its own text embedding. Jobs with a ControlNet control
 * image come first: one ControlNet call runs over exactly their rows (each with its own control image and scale) and
 * its residuals go into the UNet skips of those rows only; the other rows get zeros. Then each job applies its own
 * guidance scale and sampler step. Rows computed equal rows needed, for the UNet and the ControlNet: no padding, no
 * shape mixing. Jobs join and leave
 * between any two steps; a cancelled job's buffers are released before the next step.
 *
 * <p>Every {@code preview_every} steps a job sends a preview (the linear latent-to-RGB projection, encoded on the
 * output threads) unless its client has not taken the previous event yet: then the preview is coalesced (the newest
 * wins). Jobs of one shape finishing at the same step are decoded by one VAE call; each image is sent as PNG with
 * its seed, never dropped, then one {@code Finished} per image. Every method runs on the loop thread.
 */
final class DiffuseLane implements Lane<DenoiseJob> {
    private static final Logger logger = LoggerFactory.getLogger(DiffuseLane.class);

    private final DiffusionPipeline pipeline;
    private final DiffuseConfig config;
    private final Listeners listeners;
    private final PromptCache prompts;
    private final List<DenoiseJob> jobs = new ArrayList<>();
    private final List<DenoiseJob> batch = new ArrayList<>();
    private final List<DenoiseJob> finished = new ArrayList<>();
    private final List<String> missing = new ArrayList<>();
    private float[] sample = new float[0];
    private float[] timesteps = new float[0];
    private float[] context = new float[0];
    private float[] control = new float[0];
    private float[] controlScales = new float[0];
    /** The UNet's residual inputs when only some rows have ControlNet: per residual, every row (grown, never shrunk). */
    private float[][] residuals = new float[0][];
    /** Rows the step's ControlNet call computed. */
    private int controlPacked;

    private volatile int running;
    private volatile long steps;
    private volatile long rowsComputed;
    private volatile long rowsNeeded;
    private volatile long controlRowsComputed;
    private volatile long controlRowsNeeded;
    private volatile long images;
    private volatile long previews;
    private volatile long previewsCoalesced;

    DiffuseLane(DiffusionPipeline pipeline, DiffuseConfig config, Listeners listeners) {
        this.pipeline = Objects.requireNonNull(pipeline, "pipeline");
        this.config = Objects.requireNonNull(config, "config");
        this.listeners = Objects.requireNonNull(listeners, "listeners");
        this.prompts = new PromptCache(config.promptCacheSize());
    }

    @Override
    public String name() {
        return pipeline.name();
    }

    @Override
    public void admit(DenoiseJob job) {
        jobs.add(job);
        running = jobs.size();
    }

    @Override
    public void cancel(DenoiseJob job) {
        jobs.remove(job);
        job.release();
        running = jobs.size();
    }

    @Override
    public boolean busy() {
        return !jobs.isEmpty();
    }

    @Override
    public boolean step() {
        collect();
        if (batch.isEmpty()) return false;
        long start = System.nanoTime();
        DenoiseJob first = batch.get(0);
        int h = first.latentH;
        int w = first.latentW;
        int per = pipeline.latentChannels() * h * w;
        int rows = 0;
        int controlRows = 0;
        controlPacked = 0;
        for (DenoiseJob j : batch) {
            rows += j.rows();
            if (j.control != null) controlRows += j.rows();
        }
        try {
            embed();
            startFromImages(per);
            pack(rows, per);
            float[][] res = controlRows == 0 ? null : controlNet(controlRows, rows, h, w);
            float[] noise = pipeline.denoise(sample, timesteps, context, rows, h, w, res);
            int at = 0;
            for (DenoiseJob j : batch) {
                at = advance(j, noise, at, per);
            }
            decodeFinished(h, w, per);
        } catch (RuntimeException e) {
            logger.error("diffusion step failed ({} jobs, {} rows); failing them", batch.size(), rows, e);
            JobFailure failure = JobFailure.of(JobFailure.Code.INTERNAL, "the model failed on this step: "
                    + e.getMessage());
            for (DenoiseJob j : batch) {
                jobs.remove(j);
                j.release();
                j.fail(failure);
            }
            running = jobs.size();
            batch.clear();
            return true;
        }
        long nanos = System.nanoTime() - start;
        steps++;
        rowsComputed += rows;
        controlRowsComputed += controlPacked;
        long needed = 0;
        for (DenoiseJob j : batch) needed += j.rows();
        rowsNeeded += needed;
        controlRowsNeeded += controlRows;
        listeners.onStep(name(), ModelKind.DIFFUSION, batch.size(), rows, nanos);
        batch.clear();
        running = jobs.size();
        return true;
    }

    /** The jobs of this step: one latent shape, arrival order, within the row and attention-memory budgets. */
    private void collect() {
        batch.clear();
        DenoiseJob lead = null;
        for (DenoiseJob j : jobs) {
            if (j.ended() || j.cancelled()) continue;
            lead = j;
            break;
        }
        if (lead == null) return;
        int rows = 0;
        long perRow = Math.max(1, pipeline.attentionBytes(lead.latentH, lead.latentW));
        long maxRows = Math.min(config.maxRowsPerStep(), config.maxAttentionBytes() / perRow);
        for (DenoiseJob j : jobs) {
            if (j.ended() || j.cancelled() || j.latentH != lead.latentH || j.latentW != lead.latentW) continue;
            if (!batch.isEmpty() && rows + j.rows() > maxRows) continue;
            batch.add(j);
            rows += j.rows();
        }
        // the shape that ran goes to the back, so the next step starts from the job that has waited longest
        jobs.removeAll(batch);
        jobs.addAll(batch);
        // ControlNet jobs first (stable), so that the ControlNet's rows are the first rows of the UNet call
        int at = 0;
        for (int i = 0; i < batch.size(); i++) {
            DenoiseJob j = batch.get(i);
            if (j.control == null) continue;
            batch.remove(i);
            batch.add(at++, j);
        }
    }

    /**
     * One ControlNet call over the first {@code controlRows} rows (the ControlNet jobs' rows, packed first: each row
     * its job's UNet input, timestep, text embedding, control image and scale, the unconditional rows too, as
     * diffusers' pipeline does with guess mode off); returns the UNet's residuals for all {@code rows} rows, zero
     * for the rows of jobs without ControlNet.
     */
    private float[][] controlNet(int controlRows, int rows, int h, int w) {
        int image = 3 * h * pipeline.vaeScale() * w * pipeline.vaeScale();
        if (control.length < controlRows * image) control = new float[controlRows * image];
        if (controlScales.length < controlRows) controlScales = new float[controlRows];
        int row = 0;
        for (DenoiseJob j : batch) {
            if (j.control == null) break;
            for (int r = 0; r < j.rows(); r++, row++) {
                System.arraycopy(j.control, 0, control, row * image, image);
                controlScales[row] = j.controlScale;
            }
        }
        controlPacked = row;
        float[][] out = pipeline.controlNet(sample, timesteps, context, control, controlScales, row, h, w);
        if (controlRows == rows) return out;
        if (residuals.length != out.length) residuals = new float[out.length][];
        for (int i = 0; i < out.length; i++) {
            int perRow = out[i].length / controlRows;
            if (residuals[i] == null || residuals[i].length < rows * perRow) residuals[i] = new float[rows * perRow];
            System.arraycopy(out[i], 0, residuals[i], 0, controlRows * perRow);
            Arrays.fill(residuals[i], controlRows * perRow, rows * perRow, 0f);
        }
        return residuals;
    }

    /** Finds every prompt the batch needs, encoding the missing ones in one text-encoder call. */
    private void embed() {
        missing.clear();
        for (DenoiseJob j : batch) {
            if (j.cond != null) continue;
            need(j.prompt);
            if (j.guided) need(j.negativePrompt);
        }
        if (!missing.isEmpty()) {
            float[] all = pipeline.encodeText(missing);
            int size = pipeline.contextLength() * pipeline.contextDim();
            for (int i = 0; i < missing.size(); i++) {
                prompts.put(missing.get(i), Arrays.copyOfRange(all, i * size, (i + 1) * size));
            }
        }
        for (DenoiseJob j : batch) {
            if (j.cond != null) continue;
            j.cond = prompts.get(j.prompt);
            if (j.guided) j.uncond = prompts.get(j.negativePrompt);
        }
    }

    /**
     * Image-to-image jobs at their first step: the image's latents (encoded once, one copy per image of the job),
     * then noise drawn from the job's generator for all of them, added at the start step's noise level.
     */
    private void startFromImages(int per) {
        int scale = pipeline.vaeScale();
        for (DenoiseJob j : batch) {
            float[] pixels = j.initPixels;
            if (pixels == null) continue;
            float[] one = pipeline.encodeImage(pixels, j.latentH * scale, j.latentW * scale, j.generator);
            for (int i = 0; i < j.images; i++) System.arraycopy(one, 0, j.latents, i * per, per);
            j.generator.randn(j.noise);
            j.sampler.addNoise(j.step, j.latents, j.noise);
            j.initPixels = null;
        }
    }

    private void need(String prompt) {
        if (!missing.contains(prompt) && prompts.get(prompt) == null) missing.add(prompt);
    }

    /** Writes every row's model input, timestep and text embedding into the step's buffers (grown, never shrunk). */
    private void pack(int rows, int per) {
        int size = pipeline.contextLength() * pipeline.contextDim();
        if (sample.length < rows * per) sample = new float[rows * per];
        if (timesteps.length < rows) timesteps = new float[rows];
        if (context.length < rows * size) context = new float[rows * size];
        int row = 0;
        for (DenoiseJob j : batch) {
            float t = j.sampler.timestep(j.step);
            int n = j.images;
            j.sampler.scaleInput(j.step, j.latents, sample, row * per);
            if (j.guided) {
                System.arraycopy(sample, row * per, sample, (row + n) * per, n * per);
                for (int i = 0; i < n; i++) System.arraycopy(j.uncond, 0, context, (row + i) * size, size);
                row += n;
            }
            for (int i = 0; i < n; i++) System.arraycopy(j.cond, 0, context, (row + i) * size, size);
            row += n;
            Arrays.fill(timesteps, row - j.rows(), row, t);
        }
    }

    /** Applies job {@code j}'s guidance and sampler step from its rows at {@code at}; returns the next row. */
    private int advance(DenoiseJob j, float[] noise, int at, int per) {
        int n = j.images;
        int len = n * per;
        if (j.firstStepNanos == 0) j.firstStepNanos = System.nanoTime();
        if (j.guided) {
            int u = at * per;
            int c = (at + n) * per;
            float g = j.guidance;
            for (int e = 0; e < len; e++) {
                float un = noise[u + e];
                j.noise[e] = un + g * (noise[c + e] - un);
            }
        } else {
            System.arraycopy(noise, at * per, j.noise, 0, len);
        }
        j.sampler.step(j.step, j.noise, 0, j.latents, j.generator);
        j.step++;
        if (j.done()) {
            finished.add(j);
        } else if (j.previewEvery > 0 && j.step % j.previewEvery == 0) {
            preview(j, per);
        }
        return at + j.rows();
    }

    private void preview(DenoiseJob j, int per) {
        if (j.buffered() > 0) {
            j.previewsCoalesced++;
            previewsCoalesced++;
            return;
        }
        int c = pipeline.latentChannels();
        int stride = LatentPreview.stride(j.latentH, j.latentW, config.previewSide());
        j.sampler.scaleInput(j.step, j.latents, j.noise, 0);
        for (int i = 0; i < j.images; i++) {
            byte[] rgb = LatentPreview.rgb(j.noise, i, c, j.latentH, j.latentW, stride);
            j.emit(new DiffuseEvent.Preview(i, j.step, j.sampler.steps(), rgb,
                    LatentPreview.side(j.latentW, stride), LatentPreview.side(j.latentH, stride)));
        }
        j.previewsSent++;
        previews++;
    }

    /** One VAE call for the jobs that finished this step; their images, then their ends. */
    private void decodeFinished(int h, int w, int per) {
        if (finished.isEmpty()) return;
        int n = 0;
        for (DenoiseJob j : finished) n += j.images;
        float[] all = new float[n * per];
        int at = 0;
        for (DenoiseJob j : finished) {
            System.arraycopy(j.latents, 0, all, at, j.latents.length);
            at += j.latents.length;
        }
        float[] pixels = pipeline.decode(all, n, h, w);
        int width = w * pipeline.vaeScale();
        int height = h * pipeline.vaeScale();
        int image = 3 * width * height;
        int index = 0;
        long now = System.nanoTime();
        for (DenoiseJob j : finished) {
            jobs.remove(j);
            for (int i = 0; i < j.images; i++, index++) {
                j.emit(new DiffuseEvent.Image(i, Arrays.copyOfRange(pixels, index * image, (index + 1) * image),
                        width, height, j.seed));
                images++;
            }
            double queueMs = (j.firstStepNanos - j.arrivalNanos()) / 1e6;
            double e2eMs = (now - j.arrivalNanos()) / 1e6;
            for (int i = 0; i < j.images; i++) {
                JobEvent.Finished f = new JobEvent.Finished(i, FinishReason.STOP,
                        new JobEvent.Usage(0, j.sampler.steps(), 0),
                        new JobEvent.Timings(queueMs, e2eMs, e2eMs, new double[0]));
                j.emit(new DiffuseEvent.Plain(f));
                listeners.onFinished(name(), FinishReason.STOP, f.usage(), f.timings());
            }
            j.release();
            j.complete();
        }
        finished.clear();
    }

    @Override
    public void shutdown(JobFailure failure) {
        for (DenoiseJob j : new ArrayList<>(jobs)) {
            jobs.remove(j);
            j.release();
            j.fail(failure);
        }
        running = 0;
    }

    DiffuseStats stats() {
        return new DiffuseStats(running, steps, rowsComputed, rowsNeeded, images, previews, previewsCoalesced,
                prompts.hits(), prompts.misses(), controlRowsComputed, controlRowsNeeded);
    }
}
