/**
 * Who may call the server and how much: API keys, tenants' quotas, TLS, the WebSocket origin policy, each
 * connection's upload rate ({@link dev.tessera.gateway.edge.UploadPacing}), and the options of the edge (see
 * {@link dev.tessera.gateway.edge.EdgeOptions}).
 */
@NullMarked
package dev.tessera.gateway.edge;

import org.jspecify.annotations.NullMarked;
