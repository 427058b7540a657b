package dev.tessera.loadtest.transport;

import dev.tessera.loadtest.measure.RequestTrace;
import dev.tessera.loadtest.workload.LoadRequest;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Flow;

/**
 * The OpenAI HTTP API over server-sent events, HTTP/1.1 (keep-alive connections, as the openai clients use):
 * {@code POST /v1/completions} for a prompt, {@code /v1/chat/completions} for messages, with
 * {@code stream_options.include_usage}. A chunk with non-empty text (or delta content) is output arriving; the
 * usage chunk gives the output token count. A non-200 answer fails as {@code HTTP <code>}, an error object in the
 * stream as {@code STREAM_ERROR}, a stream without usage as {@code INCOMPLETE}.
 */
public final class SseTransport implements Transport {
    private final HttpClient http;
    private final URI completions;
    private final URI chat;
    private final String model;
    private final List<CompletableFuture<?>> inFlight = new CopyOnWriteArrayList<>();

    public SseTransport(String host, int port, String model) {
        this.http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(10)).build();
        this.completions = URI.create("http://" + host + ":" + port + "/v1/completions");
        this.chat = URI.create("http://" + host + ":" + port + "/v1/chat/completions");
        this.model = model;
    }

    @Override
    public void send(LoadRequest request, RequestTrace trace) {
        HttpRequest post = HttpRequest.newBuilder(request.prompt() != null ? completions : chat)
                .header("content-type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(Requests.openAi(request, model), StandardCharsets.UTF_8))
                .build();
        Events events = new Events(trace);
        CompletableFuture<HttpResponse<Void>> f = http.sendAsync(post, info -> info.statusCode() == 200
                ? HttpResponse.BodySubscribers.fromLineSubscriber(events)
                : HttpResponse.BodySubscribers.replacing(null));
        inFlight.add(f);
        f.whenComplete((response, error) -> {
            inFlight.remove(f);
            if (error != null) {
                trace.failed("CONNECTION", String.valueOf(error.getMessage()));
            } else if (response.statusCode() != 200) {
                trace.failed("HTTP " + response.statusCode(), "");
            } else {
                events.end();
            }
        });
    }

    @Override
    public String name() {
        return "sse";
    }

    @Override
    public void close() {
        for (CompletableFuture<?> f : inFlight) f.cancel(true);
    }

    /** The lines of one event stream. */
    static final class Events implements Flow.Subscriber<String> {
        private final RequestTrace trace;
        private int completionTokens = -1;
        private String error = "";

        Events(RequestTrace trace) {
            this.trace = trace;
        }

        @Override
        public void onSubscribe(Flow.Subscription s) {
            s.request(Long.MAX_VALUE);
        }

        @Override
        public void onNext(String line) {
            if (!line.startsWith("data: {")) return;
            if (line.startsWith("data: {\"error\"")) {
                error = line.substring(6);
                return;
            }
            if (hasOutput(line)) trace.tokens(1);
            int u = line.indexOf("\"completion_tokens\":");
            if (u >= 0) {
                int from = u + "\"completion_tokens\":".length();
                int to = from;
                while (to < line.length() && Character.isDigit(line.charAt(to))) to++;
                completionTokens = Integer.parseInt(line.substring(from, to));
            }
        }

        /** Whether a chunk carries text: a completion's {@code "text":"x..."} or a chat delta's {@code "content":"x..."}. */
        static boolean hasOutput(String line) {
            return nonEmpty(line, "\"text\":\"") || nonEmpty(line, "\"content\":\"");
        }

        private static boolean nonEmpty(String line, String key) {
            int i = line.indexOf(key);
            return i >= 0 && i + key.length() < line.length() && line.charAt(i + key.length()) != '"';
        }

        @Override
        public void onError(Throwable t) {
            // the response future fails too; it ends the trace
        }

        @Override
        public void onComplete() {
            // the response future completes next; it ends the trace
        }

        void end() {
            if (!error.isEmpty()) {
                trace.failed("STREAM_ERROR", error);
            } else if (completionTokens < 0) {
                trace.failed("INCOMPLETE", "the stream ended without a usage chunk");
            } else {
                trace.completed(completionTokens);
            }
        }
    }
}
