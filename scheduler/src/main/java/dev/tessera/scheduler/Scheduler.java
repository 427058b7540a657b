package dev.tessera.scheduler;

import dev.tessera.engine.text.TextEngine;
import dev.tessera.engine.text.model.ModelInfo;
import dev.tessera.engine.text.runtime.ModelExecutor;
import dev.tessera.engine.text.sampling.SamplingParams;
import dev.tessera.engine.text.tokenizer.Tokenizer;
import dev.tessera.engine.vision.VisionModel;
import dev.tessera.kvcache.PagedKvCache;
import dev.tessera.scheduler.core.FairShare;
import dev.tessera.scheduler.core.JobEvent;
import dev.tessera.scheduler.core.JobException;
import dev.tessera.scheduler.core.Lane;
import dev.tessera.scheduler.core.Listeners;
import dev.tessera.scheduler.core.ModelCard;
import dev.tessera.scheduler.core.ModelKind;
import dev.tessera.scheduler.core.ModelRegistry;
import dev.tessera.scheduler.core.ModelStats;
import dev.tessera.scheduler.core.ServedModel;
import dev.tessera.scheduler.core.ServingListener;
import dev.tessera.scheduler.core.WorkLoop;
import dev.tessera.scheduler.detect.DetectConfig;
import dev.tessera.scheduler.detect.DetectFrame;
import dev.tessera.scheduler.detect.DetectModel;
import dev.tessera.scheduler.diffuse.DiffuseConfig;
import dev.tessera.scheduler.diffuse.DiffuseModel;
import dev.tessera.scheduler.diffuse.DiffuseRequest;
import dev.tessera.scheduler.diffuse.DiffusionPipeline;
import dev.tessera.scheduler.detect.FrameDetector;
import dev.tessera.scheduler.serving.InputProcessor;
import dev.tessera.scheduler.serving.OutputProcessor;
import dev.tessera.scheduler.serving.Serving;
import dev.tessera.scheduler.text.ChatTemplate;
import dev.tessera.scheduler.text.GenerateRequest;
import dev.tessera.scheduler.text.ImageEncoding;
import dev.tessera.scheduler.text.ImagePrompts;
import dev.tessera.scheduler.text.TextConfig;
import dev.tessera.scheduler.text.TextModel;
import dev.tessera.scheduler.text.VisionEncoding;
import dev.tessera.scheduler.text.VisionPrompts;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.LongSupplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Flux;

/**
 * The serving core, assembled: the served models ({@link ModelRegistry}), the one {@link WorkLoop} that runs all
 * their steps on the shared compute threads, and the input and output processors around it. Implements
 * {@link JobService}, the network edge's view.
 *
 * <p>Built with {@link #builder()}; {@link #start()} starts the loop. Owns the loop and the processors' threads,
 * not the engines (close the scheduler first, then the engines).
 */
public final class Scheduler implements JobService, AutoCloseable {
    private static final Logger logger = LoggerFactory.getLogger(Scheduler.class);

    private final ModelRegistry registry;
    private final Listeners listeners;
    private final WorkLoop loop;
    private final InputProcessor input;
    private final OutputProcessor output;
    private final Serving serving;

    private Scheduler(Builder b) {
        this.registry = new ModelRegistry(b.models);
        this.listeners = b.listeners;
        List<Lane<?>> lanes = new ArrayList<>();
        for (ServedModel m : b.models) lanes.add(m.lane());
        InputProcessor in = new InputProcessor(b.inputThreads, b.inputQueue);
        OutputProcessor out = null;
        try {
            out = new OutputProcessor(b.outputThreads);
            this.loop = new WorkLoop(lanes, new FairShare(b.maxWaitSteps), b.clock);
        } catch (RuntimeException e) {
            in.close();
            if (out != null) out.close();
            throw e;
        }
        this.input = in;
        this.output = out;
        this.serving = new Serving(input, loop, output);
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Starts the loop thread. */
    public Scheduler start() {
        loop.start();
        for (ModelCard c : registry.cards()) {
            logger.info("serving {} model '{}' ({}){}", ModelRegistry.describe(c.kind()), c.name(), c.architecture(),
                    c.isDefault() ? ", the default of its kind" : "");
        }
        return this;
    }

    @Override
    public List<ModelCard> models() {
        return registry.cards();
    }

    @Override
    public Flux<JobEvent> generate(GenerateRequest request) {
        Objects.requireNonNull(request, "request");
        try {
            refuseWhileDraining();
            return registry.resolve(request.model(), ModelKind.TEXT_GENERATION, TextModel.class)
                    .generate(request, serving);
        } catch (JobException e) {
            return Flux.just(new JobEvent.Error(e.failure()));
        }
    }

    @Override
    public Flux<JobEvent> detect(Flux<DetectFrame> frames) {
        Objects.requireNonNull(frames, "frames");
        return frames.switchOnFirst((first, all) -> {
            if (!first.hasValue()) {
                return first.hasError() ? Flux.<JobEvent>error(first.getThrowable()) : Flux.<JobEvent>empty();
            }
            String model = first.get().model();
            try {
                refuseWhileDraining();
                return registry.resolve(model, ModelKind.DETECTION, DetectModel.class).detect(all, serving, model);
            } catch (JobException e) {
                return Flux.<JobEvent>just(new JobEvent.Error(e.failure()));
            }
        }, false);
    }

    @Override
    public Flux<JobEvent> diffuse(DiffuseRequest request) {
        Objects.requireNonNull(request, "request");
        try {
            refuseWhileDraining();
            return registry.resolve(request.model(), ModelKind.DIFFUSION, DiffuseModel.class)
                    .diffuse(request, serving);
        } catch (JobException e) {
            return Flux.just(new JobEvent.Error(e.failure()));
        }
    }

    @Override
    public String tokenText(String model, int tokenId) {
        return registry.resolve(model, ModelKind.TEXT_GENERATION, TextModel.class).tokenText(tokenId);
    }

    private void refuseWhileDraining() {
        if (loop.draining()) throw loop.unavailable().exception();
    }

    @Override
    public ModelStats stats(String name) {
        for (ServedModel m : registry.models()) {
            if (m.card().name().equals(name)) return m.stats();
        }
        throw new IllegalArgumentException("no model named '" + name + "'");
    }

    /** The served text model {@code name} ("" for the default), for benchmarks and tests. */
    public TextModel textModel(String name) {
        return registry.resolve(name, ModelKind.TEXT_GENERATION, TextModel.class);
    }

    /** The served detection model {@code name} ("" for the default), for benchmarks and tests. */
    public DetectModel<?> detectModel(String name) {
        return registry.resolve(name, ModelKind.DETECTION, DetectModel.class);
    }

    @Override
    public void addListener(ServingListener listener) {
        listeners.add(listener);
    }

    @Override
    public void drain() {
        loop.drain();
        logger.info("draining: no new jobs are admitted");
    }

    @Override
    public boolean awaitIdle(Duration timeout) throws InterruptedException {
        return loop.awaitIdle(timeout);
    }

    /** The work loop (steps per lane, for fairness checks and benchmarks). */
    public WorkLoop loop() {
        return loop;
    }

    /**
     * Stops the loop (jobs still in flight end UNAVAILABLE) and the processors' threads. The engines are not
     * closed.
     */
    @Override
    public void close() {
        try {
            loop.close();
        } finally {
            try {
                input.close();
            } finally {
                output.close();
            }
        }
    }

    /** Assembles a {@link Scheduler}: the models in order (the first of each kind is its default), then limits. */
    public static final class Builder {
        private final Listeners listeners = new Listeners();
        private final List<ServedModel> models = new ArrayList<>();
        private int maxWaitSteps = 8;
        private int inputThreads = Math.max(1, Math.min(2, Runtime.getRuntime().availableProcessors()));
        private int inputQueue = 4096;
        private int outputThreads = 1;
        private LongSupplier clock = System::nanoTime;
        private int maxImagesPerRequest = 8;
        private long maxImagePixels = 1L << 25;
        private long encoderCacheBytes = 64L << 20;

        private Builder() {
        }

        /**
         * Serves a loaded text engine under its name: a fresh {@link PagedKvCache} over the engine's KV store.
         *
         * @throws IllegalArgumentException if {@code config} asks for more tokens or sequences per step than the
         *                                  engine was sized for
         */
        public Builder text(TextEngine engine, TextConfig config) {
            Objects.requireNonNull(engine, "engine");
            Objects.requireNonNull(config, "config");
            if (config.maxBatchTokens() > engine.maxBatchTokens()) {
                throw new IllegalArgumentException("maxBatchTokens " + config.maxBatchTokens()
                        + " exceeds the engine's " + engine.maxBatchTokens());
            }
            int seqs = Math.max(config.runningLimit(), SamplingParams.MAX_N);
            if (seqs > engine.maxSeqs()) {
                throw new IllegalArgumentException("the running limit (" + seqs + ", at least n's maximum "
                        + SamplingParams.MAX_N + ") exceeds the engine's " + engine.maxSeqs()
                        + " sequences per step");
            }
            PagedKvCache kv = new PagedKvCache(engine.kvStore(), config.enablePrefixCaching());
            var tc = engine.tokenizerConfig();
            ChatTemplate chat = tc.template().map(t -> new ChatTemplate(t, tc.bosToken(), tc.eosToken())).orElse(null);
            VisionModel vision = engine.vision();
            if (vision == null) return text(engine.info(), engine.executor(), engine.tokenizer(), kv, config, chat);
            int budget = vision.maxEncoderPatches();
            ImagePrompts images = new VisionPrompts(vision.config(), vision.processor(), maxImagesPerRequest,
                    maxImagePixels, budget);
            ImageEncoding encoding = new VisionEncoding(vision.encoder(), budget, encoderCacheBytes);
            models.add(new TextModel(engine.info(), engine.executor(), engine.tokenizer(), kv, config, listeners,
                    chat, images, encoding));
            return this;
        }

        /** The most images one chat request may carry (vision-language models). Default 8. */
        public Builder maxImagesPerRequest(int images) {
            if (images < 1) throw new IllegalArgumentException("maxImagesPerRequest must be >= 1, got " + images);
            this.maxImagesPerRequest = images;
            return this;
        }

        /** The most pixels an image may have before resizing, checked on its header. Default 2^25 (about 33 M). */
        public Builder maxImagePixels(long pixels) {
            if (pixels < 1) throw new IllegalArgumentException("maxImagePixels must be >= 1, got " + pixels);
            this.maxImagePixels = pixels;
            return this;
        }

        /**
         * The encoder-output cache's byte budget per vision-language model (image embeddings by content, LRU, on
         * the Java heap beside the KV cache). Default 64 MiB; 0 caches nothing.
         */
        public Builder encoderCacheBytes(long bytes) {
            if (bytes < 0) throw new IllegalArgumentException("encoderCacheBytes must be >= 0, got " + bytes);
            this.encoderCacheBytes = bytes;
            return this;
        }

        /** Serves a text model from its parts (tests use a test executor). None is owned. */
        public Builder text(ModelInfo info, ModelExecutor executor, Tokenizer tokenizer, PagedKvCache kv,
                            TextConfig config) {
            return text(info, executor, tokenizer, kv, config, null);
        }

        /** Serves a text model from its parts, answering chat through {@code chatTemplate} (null: no chat). */
        public Builder text(ModelInfo info, ModelExecutor executor, Tokenizer tokenizer, PagedKvCache kv,
                            TextConfig config, @Nullable ChatTemplate chatTemplate) {
            models.add(new TextModel(info, executor, tokenizer, kv, config, listeners, chatTemplate));
            return this;
        }

        /** Serves a detector. Not owned. */
        public Builder detector(FrameDetector<?> detector, DetectConfig config) {
            models.add(new DetectModel<>(detector, config, listeners));
            return this;
        }

        /** Serves a diffusion pipeline (step-level batching of denoising jobs). Not owned. */
        public Builder diffusion(DiffusionPipeline pipeline, DiffuseConfig config) {
            models.add(new DiffuseModel(pipeline, config, listeners));
            return this;
        }

        /** The most consecutive steps of other models a busy model waits (see {@link FairShare}). Default 8. */
        public Builder maxWaitSteps(int steps) {
            this.maxWaitSteps = steps;
            return this;
        }

        /** Input threads (validation, tokenization, image decoding). Default: 2, or 1 on one core. */
        public Builder inputThreads(int threads) {
            this.inputThreads = threads;
            return this;
        }

        /** Output threads (detokenization, stop strings). Default 1. */
        public Builder outputThreads(int threads) {
            this.outputThreads = threads;
            return this;
        }

        /** The clock that measures step costs for fairness (tests pass a fake). */
        public Builder clock(LongSupplier clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        /** Listens from the start (before any step). */
        public Builder listener(ServingListener listener) {
            listeners.add(listener);
            return this;
        }

        public Scheduler build() {
            if (models.isEmpty()) throw new IllegalStateException("no model to serve");
            return new Scheduler(this);
        }
    }
}
