// The budget of outbound body bytes in flight: request bodies from the moment a request is
// accepted, response bodies as they are read, per installation and for the whole host.
// Every outbound request holds its bytes in one `Hold` that is released when the request
// ends, however it ends. Requests made by the host itself (integration-message sends,
// scheduled webhooks to outside URLs) name no installation and count host-wide only.
import { PlughostError } from '../errors.ts';

export interface OutboundByteBudgets { outboundBytesPerInstallation: number; outboundBytesHostWide: number }

export interface OutboundBytesStats {
  /** Bytes of outbound bodies held now, host-wide. */
  bytes: number;
  /** The most ever held at once, host-wide. */
  peakBytes: number;
  /** Installations holding any bytes now. */
  installations: number;
}

export interface Hold {
  /**
   * Counts `bytes` more against the budgets, or throws PLUGIN_LIMIT naming the budget it
   * would pass (nothing more is counted then). `what` starts the error's message. Once the
   * hold is released it counts nothing.
   */
  take(bytes: number, what: string): void;
  /** Gives back everything this hold took; calling it again does nothing. */
  release(): void;
}

export interface OutboundBytes {
  open(installationId: string | undefined): Hold;
  stats(): OutboundBytesStats;
}

export function createOutboundBytes(budgets: OutboundByteBudgets): OutboundBytes {
  const perInstallation = new Map<string, number>();
  let total = 0;
  let peak = 0;
  const refuse = (limit: keyof OutboundByteBudgets, what: string, bytes: number, held: number, whose: string) => new PlughostError('PLUGIN_LIMIT',
    `${what}: ${bytes} more bytes would pass the ${budgets[limit]}-byte budget of outbound bodies in flight ${whose} (limit ${limit}; ${held} held now); await some requests before starting more`,
    { details: { limit } });
  return {
    open(installationId) {
      let mine = 0;
      let released = false;
      return {
        take(bytes, what) {
          if (released || bytes === 0) return;
          const theirs = installationId === undefined ? 0 : perInstallation.get(installationId) ?? 0;
          if (installationId !== undefined && theirs + bytes > budgets.outboundBytesPerInstallation) {
            throw refuse('outboundBytesPerInstallation', what, bytes, theirs, 'for this installation');
          }
          if (total + bytes > budgets.outboundBytesHostWide) throw refuse('outboundBytesHostWide', what, bytes, total, 'on this host');
          if (installationId !== undefined) perInstallation.set(installationId, theirs + bytes);
          mine += bytes;
          total += bytes;
          if (total > peak) peak = total;
        },
        release() {
          if (released) return;
          released = true;
          total -= mine;
          if (installationId !== undefined && mine > 0) {
            const left = perInstallation.get(installationId)! - mine;
            if (left === 0) perInstallation.delete(installationId);
            else perInstallation.set(installationId, left);
          }
          mine = 0;
        },
      };
    },
    stats: () => ({ bytes: total, peakBytes: peak, installations: perInstallation.size }),
  };
}
