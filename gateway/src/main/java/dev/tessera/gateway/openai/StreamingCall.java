package dev.tessera.gateway.openai;

import dev.tessera.gateway.session.WriteGate;
import dev.tessera.scheduler.JobService;
import dev.tessera.scheduler.core.JobEvent;
import io.vertx.core.Context;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * A streamed answer: server-sent events in OpenAI's chunk schema, {@code data: {json}} and a blank line per chunk,
 * {@code data: [DONE]} at the end. A chat choice opens with a chunk carrying the assistant's role, each token delta
 * is one chunk ({@code choices[].delta.content}, or {@code choices[].text} for completions), the last chunk of a
 * choice carries its {@code finish_reason}, and with {@code stream_options.include_usage} a last chunk with empty
 * {@code choices} carries the usage.
 *
 * <p>Nothing is sent before the job's first event, so a request the serving core refuses still gets a proper
 * 4xx; after that, a failure is an {@code data: {"error": ...}} event before {@code [DONE]}. The job is asked for
 * more events only while the response's write queue has room ({@link WriteGate} over {@code writeQueueFull()} and
 * the drain handler), so a client that stops reading pauses its job instead of growing a buffer.
 */
final class StreamingCall extends ApiCall implements WriteGate {
    private final List<Runnable> drainWaiters = new ArrayList<>();
    private boolean open;

    StreamingCall(OpenAiApi owner, ApiRequest request, HttpServerRequest http, JobService service,
                  String model, Context context) {
        super(owner, request, http, service, model, context);
        response.setWriteQueueMaxSize(owner.options().writeQueueMaxBytes());
        response.drainHandler(v -> fireDrain());
    }

    @Override
    WriteGate gate() {
        return this;
    }

    @Override
    public boolean full() {
        return !response.closed() && !response.ended() && response.writeQueueFull();
    }

    @Override
    public void whenDrained(Runnable r) {
        if (!response.closed() && !response.ended()) drainWaiters.add(r);
    }

    @Override
    void delta(Choice c, JobEvent.TokenDelta d) {
        open(c);
        JsonObject logprobs = c.add(d, request.logprobs());
        if (d.text().isEmpty() && logprobs == null) return;
        send(choice(c.index, request.endpoint() == Endpoint.CHAT ? new JsonObject().put("content", d.text()) : null,
                d.text(), logprobs, null));
    }

    @Override
    void finished(Choice c) {
        open(c);
        send(choice(c.index, new JsonObject(), "", null, c.finishReason()));
    }

    @Override
    void failed(ApiError error) {
        if (!open) {
            error.send(response);
            return;
        }
        write(error.json());
        done();
    }

    @Override
    void completed() {
        if (!open) { // a job with no event at all: nothing to stream, but the framing stays whole
            head();
        }
        if (request.includeUsage()) {
            write(chunk(new JsonArray()).put("usage", usage()));
        }
        done();
    }

    /** Opens the stream (headers) and, for chat, the choice with the assistant's role. */
    private void open(Choice c) {
        head();
        if (c.start() && request.endpoint() == Endpoint.CHAT) {
            send(choice(c.index, new JsonObject().put("role", "assistant").put("content", ""), "", null, null));
        }
    }

    private void head() {
        if (open || response.headWritten()) return;
        open = true;
        response.setStatusCode(200).putHeader("content-type", "text/event-stream; charset=utf-8")
                .putHeader("cache-control", "no-cache");
        if (http1) response.setChunked(true);
    }

    private JsonObject choice(int index, @Nullable JsonObject delta, String text, @Nullable JsonObject logprobs,
                              @Nullable String finishReason) {
        JsonObject c = new JsonObject().put("index", index);
        if (request.endpoint() == Endpoint.CHAT) {
            c.put("delta", delta);
        } else {
            c.put("text", text);
        }
        return c.put("logprobs", logprobs).put("finish_reason", finishReason);
    }

    private void send(JsonObject choice) {
        JsonObject chunk = chunk(new JsonArray().add(choice));
        if (request.includeUsage()) chunk.putNull("usage");
        write(chunk);
    }

    private JsonObject chunk(JsonArray choices) {
        return new JsonObject().put("id", id).put("object", request.endpoint().chunkObject).put("created", created)
                .put("model", model).put("choices", choices);
    }

    private void write(JsonObject event) {
        if (response.closed() || response.ended()) return;
        response.write("data: " + event.encode() + "\n\n");
    }

    private void done() {
        if (response.closed() || response.ended()) return;
        response.end("data: [DONE]\n\n");
        drainWaiters.clear();
    }

    private void fireDrain() {
        List<Runnable> waiting = new ArrayList<>(drainWaiters);
        drainWaiters.clear();
        for (Runnable r : waiting) r.run();
    }
}
