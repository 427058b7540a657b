package dev.tessera.gateway.openai;

import dev.tessera.gateway.session.CallError;
import dev.tessera.gateway.session.JobSink;
import dev.tessera.gateway.session.JobSubscriber;
import dev.tessera.gateway.session.WriteGate;
import dev.tessera.scheduler.JobService;
import dev.tessera.scheduler.core.JobEvent;
import io.vertx.core.Context;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.json.JsonObject;
import java.util.Map;
import java.util.TreeMap;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One request to a text endpoint, carrying one job: it subscribes to the job's events with demand tied to the
 * HTTP response ({@link JobSubscriber} over a {@link WriteGate}), hands each event to the answer's form (streamed
 * or whole), and cancels the job when the client goes away (connection closed, stream reset), which frees its KV
 * blocks before the next step. Everything runs on the request's event loop.
 */
abstract class ApiCall implements JobSink {
    private static final Logger logger = LoggerFactory.getLogger(ApiCall.class);

    final OpenAiApi owner;
    final ApiRequest request;
    final HttpServerResponse response;
    /** HTTP/1.x, where a streamed body is chunked; HTTP/2 frames it by itself. */
    final boolean http1;
    final String id;
    final long created = System.currentTimeMillis() / 1000;
    final String model;
    private final JobService service;
    private final Context context;
    private final Map<Integer, Choice> choices = new TreeMap<>();
    private @Nullable JobSubscriber job;
    private boolean ended;
    private int promptTokens;
    private int completionTokens;
    private int cachedTokens;

    /** @param model the served model's name, as answers name it */
    ApiCall(OpenAiApi owner, ApiRequest request, HttpServerRequest http, JobService service, String model,
            Context context) {
        this.owner = owner;
        this.request = request;
        this.response = http.response();
        this.http1 = http.version() != HttpVersion.HTTP_2;
        this.service = service;
        this.model = model;
        this.context = context;
        this.id = request.job().requestId();
    }

    /** Where demand comes from: the response's write queue, or nothing for a whole answer. */
    abstract WriteGate gate();

    /** Runs the job: subscribed with demand tied to {@link #gate()}. */
    final void begin() {
        WriteGate gate = gate();
        response.closeHandler(v -> clientGone("connection closed"));
        response.exceptionHandler(t -> clientGone(t.toString()));
        JobSubscriber subscriber = new JobSubscriber(context, gate, owner.options().streamBatch(), this);
        job = subscriber;
        service.generate(request.job()).subscribe(subscriber);
    }

    /** A token delta of choice {@code c}. */
    abstract void delta(Choice c, JobEvent.TokenDelta d);

    /** Choice {@code c} ended. */
    abstract void finished(Choice c);

    /** The job failed with {@code error} (or the server gave up on it); the call ends right after. */
    abstract void failed(ApiError error);

    /** The job completed after its last choice finished (not called after a failure). */
    abstract void completed();

    @Override
    public final void onEvent(JobEvent event) {
        if (ended) return;
        if (event instanceof JobEvent.Error e) { // the last event: answer it, and the call is over
            failed(ApiError.of(e.failure(), request.endpoint(), request.maxTokensParam()));
            end();
        } else if (event instanceof JobEvent.TokenDelta d) {
            delta(choice(d.index()), d);
        } else if (event instanceof JobEvent.Finished f) {
            Choice c = choice(f.index());
            c.finish(f.reason());
            promptTokens = f.usage().promptTokens();
            cachedTokens = f.usage().cachedTokens();
            completionTokens += f.usage().completionTokens();
            finished(c);
        }
    }

    @Override
    public final void onComplete() {
        job = null;
        if (!ended) completed();
        end();
    }

    /** The server gave up on this call (shutdown past its grace period). */
    final void abort(CallError error) {
        if (ended) return;
        failed(ApiError.of(error, request.endpoint(), request.maxTokensParam()));
        end();
    }

    /** The choices so far, by index. */
    final Iterable<Choice> choices() {
        return choices.values();
    }

    final Choice choice(int index) {
        return choices.computeIfAbsent(index, i -> new Choice(i, request.endpoint(), request.topLogprobs(),
                token -> service.tokenText(request.job().model(), token)));
    }

    /** {@code usage}: the prompt once, the completions of every choice. */
    final JsonObject usage() {
        return new JsonObject().put("prompt_tokens", promptTokens).put("completion_tokens", completionTokens)
                .put("total_tokens", promptTokens + completionTokens)
                .put("prompt_tokens_details", new JsonObject().put("cached_tokens", cachedTokens));
    }

    /** Stops the job, if it still runs, and untracks the call. Idempotent. */
    final void end() {
        if (ended) return;
        ended = true;
        JobSubscriber j = job;
        job = null;
        if (j != null) j.cancelJob();
        owner.callEnded(this);
    }

    private void clientGone(String why) {
        if (ended) return;
        logger.debug("{} ended by the client: {}", id, why);
        end();
    }
}
