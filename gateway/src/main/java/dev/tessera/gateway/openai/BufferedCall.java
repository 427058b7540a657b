package dev.tessera.gateway.openai;

import dev.tessera.gateway.session.WriteGate;
import dev.tessera.scheduler.JobService;
import dev.tessera.scheduler.core.JobEvent;
import io.vertx.core.Context;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.jspecify.annotations.Nullable;

/**
 * A whole answer: the choices accumulate as the job runs and go out as one JSON response when it completes
 * ({@code chat.completion} with {@code choices[].message}, or {@code text_completion} with {@code choices[].text}),
 * or as an error with its status. Its size is bounded by the request's {@code n} and {@code max_tokens}, so events
 * are pulled as they come.
 */
final class BufferedCall extends ApiCall {
    private static final WriteGate ALWAYS_OPEN = new WriteGate() {
        @Override
        public boolean full() {
            return false;
        }

        @Override
        public void whenDrained(Runnable r) {
            r.run();
        }
    };

    private @Nullable ApiError error;

    BufferedCall(OpenAiApi owner, ApiRequest request, HttpServerRequest http, JobService service, String model,
                 Context context) {
        super(owner, request, http, service, model, context);
    }

    @Override
    WriteGate gate() {
        return ALWAYS_OPEN;
    }

    @Override
    void delta(Choice c, JobEvent.TokenDelta d) {
        c.add(d, request.logprobs());
    }

    @Override
    void finished(Choice c) {
        // Written with the others once the job completes.
    }

    @Override
    void failed(ApiError e) {
        if (error == null) {
            error = e;
            e.send(response);
        }
    }

    @Override
    void completed() {
        if (error != null || response.closed() || response.ended()) return;
        JsonArray out = new JsonArray();
        for (Choice c : choices()) {
            JsonObject choice = new JsonObject().put("index", c.index);
            if (request.endpoint() == Endpoint.CHAT) {
                choice.put("message", new JsonObject().put("role", "assistant").put("content", c.text())
                        .putNull("refusal"));
            } else {
                choice.put("text", c.text());
            }
            out.add(choice.put("logprobs", c.logprobs()).put("finish_reason", c.finishReason()));
        }
        JsonObject body = new JsonObject().put("id", id).put("object", request.endpoint().object)
                .put("created", created).put("model", model).put("choices", out).put("usage", usage());
        response.setStatusCode(200).putHeader("content-type", "application/json").end(body.encode());
    }
}
