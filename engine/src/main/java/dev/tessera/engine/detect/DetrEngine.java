package dev.tessera.engine.detect;

import dev.tessera.engine.checkpoint.Checkpoint;
import dev.tessera.engine.detect.convert.DetrConverter;
import dev.tessera.engine.detect.model.DetrConfig;
import dev.tessera.engine.detect.model.DetrImageConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * A DETR object detector loaded from a Hugging Face checkpoint directory, the engine-side API the scheduler drives.
 *
 * <p>{@link #load} validates {@code config.json}, {@code preprocessor_config.json} and every tensor, converts the
 * checkpoint into ONNX graphs (or reuses the cached ones) and opens the sessions. Then, per request, on any thread:
 * {@link #preprocessor()} decodes and prepares the image; per step, on the scheduler thread: frames go into a
 * {@link DetrBatch} ({@link #newBatch()}), {@link #detect} runs them all at once (the backbone once per group of
 * same-size frames, the transformer over all frames packed without padding), and
 * {@link #postprocessor()} turns each frame's outputs into detections.
 *
 * <p>Owns the sessions and native buffers: {@link #close()} it (idempotent). {@link #detect} is not thread-safe.
 */
public final class DetrEngine implements AutoCloseable {
    private static final Logger logger = LoggerFactory.getLogger(DetrEngine.class);

    private final DetrInfo info;
    private final DetrConfig config;
    private final DetrPreprocessor preprocessor;
    private final DetrPostprocessor postprocessor;
    private final DetrExecutor executor;
    private final DetrConverter.Converted graphs;
    private final int maxFramesPerStep;
    private volatile boolean closed;

    private DetrEngine(DetrInfo info, DetrConfig config, DetrPreprocessor preprocessor, DetrExecutor executor,
                       DetrConverter.Converted graphs, int maxFramesPerStep) {
        this.info = info;
        this.config = config;
        this.preprocessor = preprocessor;
        this.postprocessor = new DetrPostprocessor(config.labels());
        this.executor = executor;
        this.graphs = graphs;
        this.maxFramesPerStep = maxFramesPerStep;
    }

    /**
     * Loads a detector. On any failure everything opened so far is closed again before the exception leaves.
     *
     * @throws dev.tessera.engine.checkpoint.CheckpointException for a bad or unsupported checkpoint (naming the file
     *                                                           and, where one is involved, the tensor)
     * @throws IllegalStateException                             when ONNX Runtime cannot load the graphs
     */
    public static DetrEngine load(DetrOptions options) {
        return load(options, DetrExecutor.DEFAULT_OPENER);
    }

    static DetrEngine load(DetrOptions options, DetrExecutor.SessionOpener opener) {
        Objects.requireNonNull(options, "options");
        long start = System.nanoTime();
        DetrConfig config = DetrConfig.load(options.checkpoint());
        DetrImageConfig imageConfig = DetrImageConfig.load(options.checkpoint());
        DetrConverter.Converted graphs;
        float[] queryEmbeddings;
        String backbone;
        try (Checkpoint ck = Checkpoint.open(options.checkpoint())) {
            DetrConverter converter = new DetrConverter(ck, config);
            graphs = converter.convert(options.cacheDir());
            queryEmbeddings = ck.readFloats(converter.weights().queryEmbeddings);
            backbone = converter.weights().describeBackbone();
        }
        int[] edges = imageConfig.maxFrameEdges();
        if (edges == null) edges = new int[] {800, 1333};
        DetrExecutor executor = new DetrExecutor(config, graphs, queryEmbeddings, options.threads(),
                options.maxFramesPerStep(), edges, opener);
        try {
            DetrInfo info = new DetrInfo(options.servedName(), "DetrForObjectDetection", backbone, config.dModel(),
                    config.encoderLayers(), config.decoderLayers(), config.numQueries(), config.labels(),
                    imageConfig.describe());
            logger.info("loaded DETR '{}' from {}: {}, d_model {}, {}+{} layers, {} queries, {} labels, {} ({} ms)",
                    info.name(), options.checkpoint(), backbone, config.dModel(), config.encoderLayers(),
                    config.decoderLayers(), config.numQueries(), config.numLabels(), info.preprocessing(),
                    (System.nanoTime() - start) / 1_000_000);
            return new DetrEngine(info, config, new DetrPreprocessor(imageConfig, options.maxPixels()), executor,
                    graphs, options.maxFramesPerStep());
        } catch (RuntimeException e) {
            executor.close();
            throw e;
        }
    }

    public DetrInfo info() {
        return info;
    }

    /** Decoding and preparation of request images; thread-safe. */
    public DetrPreprocessor preprocessor() {
        return preprocessor;
    }

    /** Logits and boxes to detections; thread-safe. */
    public DetrPostprocessor postprocessor() {
        return postprocessor;
    }

    /** A batch sized for this engine's {@code maxFramesPerStep}, queries and classes. */
    public DetrBatch newBatch() {
        return new DetrBatch(maxFramesPerStep, config.numQueries(), config.numLabels() + 1);
    }

    /**
     * One step: every frame of {@code batch} through backbone, encoder, decoder and heads; fills the batch's logits
     * and boxes per frame. Frames of any sizes may be mixed; none is padded, and each frame's result does not depend
     * on the others in the step.
     */
    public void detect(DetrBatch batch) {
        Objects.requireNonNull(batch, "batch");
        if (closed) throw new IllegalStateException("DETR engine '" + info.name() + "' is closed");
        if (batch.numQueries() != config.numQueries() || batch.logitColumns() != config.numLabels() + 1) {
            throw new IllegalArgumentException("batch was made for another model");
        }
        executor.detect(batch);
    }

    /** {@link #postprocessor()} applied to frame {@code i} of a batch that has been run. */
    public List<Detection> detections(DetrBatch batch, int i, float threshold, int maxDetections,
                                      Set<Integer> labelFilter) {
        PreparedFrame f = batch.frame(i);
        return postprocessor.postprocess(batch.logits(i), batch.boxes(i), config.numQueries(), config.numLabels(),
                f.originalWidth(), f.originalHeight(), threshold, maxDetections, labelFilter);
    }

    /** Transformer rows computed so far: encoder rows plus decoder query rows. */
    public long tokensComputed() {
        return executor.stats().tokensComputed();
    }

    /** Transformer rows the frames needed (each frame's own feature map, plus its queries); equals computed. */
    public long tokensNeeded() {
        return executor.stats().tokensNeeded();
    }

    public DetrStats stats() {
        return executor.stats();
    }

    /** Native tensors open right now: 0 between steps and after close. */
    public int openNativeTensors() {
        return executor.openNativeTensors();
    }

    /** Where the converted graphs are, and whether they were reused from the cache. */
    public DetrConverter.Converted graphs() {
        return graphs;
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        executor.close();
    }
}
