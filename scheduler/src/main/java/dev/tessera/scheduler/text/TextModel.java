package dev.tessera.scheduler.text;

import dev.tessera.engine.text.model.ModelInfo;
import dev.tessera.engine.text.runtime.ModelExecutor;
import dev.tessera.engine.text.tokenizer.Tokenizer;
import dev.tessera.kvcache.KvStats;
import dev.tessera.kvcache.PagedKvCache;
import dev.tessera.scheduler.core.JobEvent;
import dev.tessera.scheduler.core.JobException;
import dev.tessera.scheduler.core.JobFailure;
import dev.tessera.scheduler.core.Lane;
import dev.tessera.scheduler.core.Listeners;
import dev.tessera.scheduler.core.ModelCard;
import dev.tessera.scheduler.core.ModelKind;
import dev.tessera.scheduler.core.ServedModel;
import dev.tessera.scheduler.serving.Serving;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Flux;
import reactor.core.publisher.FluxSink;

/**
 * One served text model: its input processing ({@link TextInput}: checks and tokenization on the input threads),
 * its {@link TextLane} on the loop, and its output processing ({@link TextOutput}: text and stop strings on the
 * output threads).
 *
 * <p>A job's Flux is cold: subscribing prepares and submits it. Its events are {@link JobEvent.TokenDelta}s and one
 * {@link JobEvent.Finished} per sample, or one {@link JobEvent.Error}; then it completes. Cancelling it drops the
 * job and frees its KV blocks before the next step. While a subscriber requests nothing, a bounded number of events
 * is buffered and its sequences are not scheduled; deltas are never dropped.
 */
public final class TextModel implements ServedModel {
    private static final Logger logger = LoggerFactory.getLogger(TextModel.class);

    private final ModelCard card;
    private final ModelInfo info;
    private final Tokenizer tokenizer;
    private final TextConfig config;
    private final TextInput input;
    private final TextLane lane;
    private final AtomicLong arrivals = new AtomicLong();
    private final Map<Integer, String> tokenTexts = new ConcurrentHashMap<>();

    /**
     * @param info      the model's shape
     * @param executor  runs its steps; not owned
     * @param tokenizer encodes prompts and decodes output; not owned
     * @param kv        block bookkeeping over the executor's KV store; the loop thread's from now on
     * @param config    limits and policy
     * @param listeners told about steps, preemptions and finished samples
     */
    public TextModel(ModelInfo info, ModelExecutor executor, Tokenizer tokenizer, PagedKvCache kv, TextConfig config,
                     Listeners listeners) {
        this(info, executor, tokenizer, kv, config, listeners, null);
    }

    /**
     * A model that also answers chat messages, rendered by {@code chatTemplate} (null: chat is refused with
     * INVALID_ARGUMENT on {@code messages}).
     */
    public TextModel(ModelInfo info, ModelExecutor executor, Tokenizer tokenizer, PagedKvCache kv, TextConfig config,
                     Listeners listeners, @Nullable ChatTemplate chatTemplate) {
        this(info, executor, tokenizer, kv, config, listeners, chatTemplate, null, null);
    }

    /**
     * A vision-language model: chat messages may carry images, prepared on the input threads by {@code images} and
     * encoded inside the steps through {@code encoding} (the encoder budget and the encoder-output cache). Both null
     * for a text model.
     */
    public TextModel(ModelInfo info, ModelExecutor executor, Tokenizer tokenizer, PagedKvCache kv, TextConfig config,
                     Listeners listeners, @Nullable ChatTemplate chatTemplate, @Nullable ImagePrompts images,
                     @Nullable ImageEncoding encoding) {
        this.info = Objects.requireNonNull(info, "info");
        this.tokenizer = Objects.requireNonNull(tokenizer, "tokenizer");
        this.config = Objects.requireNonNull(config, "config");
        this.input = new TextInput(info, tokenizer, config.maxPromptTokens(), kv.totalBlocks() * kv.blockSize(),
                chatTemplate, images);
        this.card = new ModelCard(info.name(), ModelKind.TEXT_GENERATION, info.architecture(), false,
                info.maxModelLen(), info.vocabSize(), List.of(), images != null, input.promptBytes());
        this.lane = new TextLane(info.name(), info, executor, kv, config, listeners, encoding);
    }

    @Override
    public ModelCard card() {
        return card;
    }

    @Override
    public Lane<?> lane() {
        return lane;
    }

    @Override
    public TextStats stats() {
        return lane.stats();
    }

    public TextConfig config() {
        return config;
    }

    /**
     * The text of one token alone (special tokens included), as OpenAI-style logprobs name tokens; a token that is
     * part of a multi-byte character decodes to U+FFFD. Cached per id: cheap enough for a network event loop.
     *
     * @throws IllegalArgumentException for an id outside the vocabulary
     */
    public String tokenText(int tokenId) {
        if (tokenId < 0 || tokenId >= info.vocabSize()) {
            throw new IllegalArgumentException("token id " + tokenId + " outside [0, " + info.vocabSize() + ")");
        }
        return tokenTexts.computeIfAbsent(tokenId, id -> tokenizer.decode(new int[] {id}, false));
    }

    /** The longest prompt accepted, in tokens. */
    public int maxPromptTokens() {
        return input.maxPromptTokens();
    }

    /**
     * The job's events: prepared on an input thread when subscribed, run on the loop, finished on an output thread.
     *
     * <p>The job takes its place in the waiting queue when subscribed, before it is prepared: so a full queue is
     * answered RESOURCE_EXHAUSTED at once on the subscribing thread, without waiting behind other requests'
     * tokenization, and the requests being prepared count against {@link TextConfig#maxWaiting()} too.
     */
    public Flux<JobEvent> generate(GenerateRequest request, Serving serving) {
        Objects.requireNonNull(request, "request");
        return Flux.defer(() -> {
            if (!lane.reserveWaiting()) return Flux.just(new JobEvent.Error(queueFull()));
            long arrival = System.nanoTime();
            // Held until the lane takes the job over (then the lane releases it at admission or end).
            AtomicBoolean held = new AtomicBoolean(true);
            return serving.input().prepare(() -> input.prepare(request, arrival))
                    .flatMapMany(prepared -> run(prepared, serving, held))
                    .onErrorResume(TextModel::asError)
                    .doFinally(signal -> {
                        if (held.getAndSet(false)) lane.queued.decrementAndGet();
                    });
        });
    }

    private JobFailure queueFull() {
        return JobFailure.of(JobFailure.Code.RESOURCE_EXHAUSTED, "the waiting queue of model "
                + JobFailure.quote(card.name()) + " is full (" + config.maxWaiting() + " requests)");
    }

    private Flux<JobEvent> run(PreparedText prepared, Serving serving, AtomicBoolean held) {
        AtomicReference<TextJob> job = new AtomicReference<>();
        TextOutput output = new TextOutput(tokenizer, prepared, (index, keep) -> serving.loop().execute(() -> {
            TextJob j = job.get();
            if (j != null) lane.stopAt(j, index, keep);
        }));
        Flux<SampleEvent> raw = Flux.create(sink -> submit(prepared, sink, job, serving, held),
                FluxSink.OverflowStrategy.BUFFER);
        return serving.output().publish(raw).handle(output);
    }

    private void submit(PreparedText prepared, FluxSink<SampleEvent> sink, AtomicReference<TextJob> holder,
                        Serving serving, AtomicBoolean held) {
        if (!held.getAndSet(false)) { // cancelled meanwhile: the place was given back
            sink.error(queueFull().exception());
            return;
        }
        TextJob job = new TextJob(prepared, arrivals.getAndIncrement(), sink);
        holder.set(job);
        try {
            lane.submitted();
            serving.loop().submit(lane, job);
        } catch (JobException e) {
            lane.queued.decrementAndGet();
            lane.cancelledBeforeLoop();
            sink.error(e);
        }
    }

    private static Flux<JobEvent> asError(Throwable t) {
        if (t instanceof JobException e) return Flux.just(new JobEvent.Error(e.failure()));
        if (t instanceof RejectedExecutionException) { // the output threads are gone: the server shut down
            return Flux.just(new JobEvent.Error(JobFailure.of(JobFailure.Code.UNAVAILABLE,
                    "the server shut down before the job finished")));
        }
        logger.error("text job failed", t);
        return Flux.just(new JobEvent.Error(JobFailure.of(JobFailure.Code.INTERNAL, "internal error: " + t)));
    }

    // For benchmarks and tests.

    /** Tokens packed into executed steps so far (prefill, recompute and decode; padding never exists here). */
    public long tokensComputed() {
        return lane.tokensComputed();
    }

    /**
     * Tokens that finished samples needed computed: uncached prompt tokens once per request, plus every output
     * token but the last. Equal to {@link #tokensComputed()} when nothing was preempted, cancelled or stopped by a
     * stop string.
     */
    public long tokensNeeded() {
        return lane.tokensNeeded();
    }

    /** Preempted sequences among the waiting: the only ones that may hold the queue over its bound. */
    int waitingPreempted() {
        return lane.waitingPreempted();
    }

    /** Places held in the waiting queue now (requests not yet running, preempted sequences); for tests. */
    int placesHeld() {
        return lane.queued.get();
    }

    /** Most KV blocks in use after any step so far. */
    public int peakUsedBlocks() {
        return lane.peakUsedBlocks();
    }

    /** KV statistics right after the step with the most blocks in use. */
    public KvStats kvStatsAtPeak() {
        return lane.kvStatsAtPeak();
    }

    /** Vision encoding counters of a vision-language model (zeros for a text model). */
    public EncoderStats encoderStats() {
        return lane.encoderStats();
    }

    /** The model's shape. */
    public ModelInfo info() {
        return info;
    }
}
