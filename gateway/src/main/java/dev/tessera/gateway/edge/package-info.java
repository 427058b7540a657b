/**
 * Who may call the server: the WebSocket origin policy, and the options of the edge (see {@link
 * dev.tessera.gateway.edge.EdgeOptions}).
 */
@NullMarked
package dev.tessera.gateway.edge;

import org.jspecify.annotations.NullMarked;
