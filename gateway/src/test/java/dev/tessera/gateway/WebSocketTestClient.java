package dev.tessera.gateway;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import dev.tessera.api.v1.SessionRequest;
import dev.tessera.api.v1.SessionResponse;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.WebSocket;
import io.vertx.core.http.WebSocketClient;
import io.vertx.core.http.WebSocketClientOptions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/**
 * A browser stand-in: a real Vert.x WebSocket client on the bridge's path that sends SessionRequests as JSON text
 * messages and parses every reply as a SessionResponse (so each reply is checked to be valid protobuf JSON).
 */
final class WebSocketTestClient implements AutoCloseable {
    private final WebSocketClient client;
    private final WebSocket socket;
    private final List<SessionResponse> responses = new CopyOnWriteArrayList<>();
    private final List<String> unparsable = new CopyOnWriteArrayList<>();
    private final List<String> texts = new CopyOnWriteArrayList<>();
    private final CompletableFuture<Short> closed = new CompletableFuture<>();

    private WebSocketTestClient(WebSocketClient client, WebSocket socket) {
        this.client = client;
        this.socket = socket;
        socket.textMessageHandler(text -> {
            texts.add(text);
            SessionResponse.Builder b = SessionResponse.newBuilder();
            try {
                JsonFormat.parser().merge(text, b);
                responses.add(b.build());
            } catch (InvalidProtocolBufferException e) {
                unparsable.add(text);
            }
        });
        socket.closeHandler(v -> closed.complete(socket.closeStatusCode()));
    }

    static WebSocketTestClient connect(Vertx vertx, GatewayServer server) throws Exception {
        return connect(vertx, server, new WebSocketClientOptions());
    }

    static WebSocketTestClient connect(Vertx vertx, GatewayServer server, WebSocketClientOptions options)
            throws Exception {
        WebSocketClient client = vertx.createWebSocketClient(options);
        WebSocket socket = await(client.connect(server.port(), "127.0.0.1", "/v1/session"));
        return new WebSocketTestClient(client, socket);
    }

    void send(SessionRequest request) throws Exception {
        sendText(JsonFormat.printer().print(request));
    }

    void sendText(String text) throws Exception {
        await(socket.writeTextMessage(text));
    }

    /** Everything received so far for {@code requestId}, in order. */
    List<SessionResponse> responses(String requestId) {
        List<SessionResponse> out = new ArrayList<>();
        for (SessionResponse r : responses) {
            if (r.getRequestId().equals(requestId)) {
                out.add(r);
            }
        }
        return out;
    }

    /** The token ids streamed for {@code requestId} so far. */
    List<Integer> tokens(String requestId) {
        List<Integer> ids = new ArrayList<>();
        for (SessionResponse r : responses(requestId)) {
            if (r.hasDelta()) {
                ids.addAll(r.getDelta().getTokenIdsList());
            }
        }
        return ids;
    }

    /** The last message for {@code requestId} when it ended the job (Finished or JobError), else null. */
    SessionResponse terminal(String requestId) {
        List<SessionResponse> rs = responses(requestId);
        if (rs.isEmpty()) {
            return null;
        }
        SessionResponse last = rs.get(rs.size() - 1);
        return last.hasFinished() || last.hasError() ? last : null;
    }

    /** Waits until {@code requestId} has ended, and returns its last message. */
    SessionResponse awaitEnd(String requestId) throws InterruptedException {
        GatewayTestSupport.eventually("job " + requestId + " to end", () -> terminal(requestId) != null);
        return terminal(requestId);
    }

    /** Every message received so far. */
    int received() {
        return responses.size();
    }

    /** Stops reading: the server's writes back up into its write queue. */
    void pause() {
        socket.pause();
    }

    void resume() {
        socket.resume();
    }

    /** The raw text of every message received, in order. */
    List<String> texts() {
        return texts;
    }

    List<String> unparsable() {
        return unparsable;
    }

    CompletableFuture<Short> closed() {
        return closed;
    }

    boolean isClosed() {
        return socket.isClosed();
    }

    void closeSocket() throws Exception {
        await(socket.close());
    }

    @Override
    public void close() throws Exception {
        if (!socket.isClosed()) {
            socket.close();
        }
        client.close();
    }

    private static <T> T await(Future<T> f) throws Exception {
        return f.toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }
}
