/**
 * `GET <api>/images`: what the verdicts page shows, from the same handler in both hosts: one row per image with
 * its latest verdict, and what the caller may do (`abilities`: the rescan and purge buttons appear only for the
 * roles that may use them, and only where the host has the action).
 *
 * - Local service: the images its gates know (running ones too), with the last purge summary.
 * - Functions app: the latest verdict of each image in the audit store ({@link imageRowsFromStore}), bounded to
 *   {@link MAX_PAGE_VERDICT_ROWS} verdict records (`truncated` says when there were more).
 */
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { plural } from '../core/plural';
import { formatImage } from '../core/reference';
import { resultOf } from '../core/result';
import type { Verdict } from '../core/types';
import type { PurgeSummary } from '../core/purge/summary';
import type { VerdictListing } from '../adapters/ports';
import type { GateProgress } from '../orchestrations/imageGate';
import { answer, jsonResponse, requireRole, type HttpAuthMode } from './http';
import { PAGE_READ_ROLES, pageAbilities } from './page';
import { verdictPath } from './rescan';

/** Most verdict records one `GET <api>/images` reads in Azure. */
export const MAX_PAGE_VERDICT_ROWS = 5000;

/** One image row of `GET <api>/images`. */
export interface ImageRow {
  /** `registry/repository@digest`. */
  image: string;
  registry: string;
  repository: string;
  digest: string;
  tag?: string;
  /** The gate that runs or ran (local service only: the Functions app lists recorded verdicts). */
  gate?: { id: string; runtimeStatus: string; trigger?: string; progress?: GateProgress; createdTime?: string };
  verdict?: Verdict;
  /** `GET /api/verdicts/...` of this image (the function-key API; the page uses its own API base). */
  verdictUrl: string;
}

/** What `GET <api>/images` lists. */
export interface ImagesListing {
  images: ImageRow[];
  /** Gates running now (local service). */
  gatesRunning?: number;
  /** The last purge summary (local service; null when none ran yet). */
  purge?: PurgeSummary | null;
  /** More verdict records exist than were read (Azure). */
  truncated?: boolean;
}

/** Dependencies of {@link handleImages}. */
export interface ImagesDeps {
  auth: HttpAuthMode;
  list: () => Promise<ImagesListing>;
  /** Which actions this host offers on the page. */
  host: { rescan: boolean; purge: boolean };
  /** `local` or `azure`: shown on the page. */
  hostName: 'local' | 'azure';
}

/** Rows from the audit store: the latest verdict of each image, newest first (the Functions app's listing). */
export async function imageRowsFromStore(store: VerdictListing): Promise<ImagesListing> {
  const { verdicts, truncated } = await store.latestImageVerdicts(MAX_PAGE_VERDICT_ROWS);
  const images = verdicts.map(
    (verdict): ImageRow => ({
      image: formatImage(verdict.image),
      ...verdict.image,
      ...(verdict.tag ? { tag: verdict.tag } : {}),
      verdict,
      verdictUrl: verdictPath(verdict.image),
    }),
  );
  images.sort(
    (a, b) => a.repository.localeCompare(b.repository) || b.verdict!.decidedAt.localeCompare(a.verdict!.decidedAt),
  );
  return { images, ...(truncated ? { truncated } : {}) };
}

/** `GET <api>/images` (roles: `Verdicts.Read` or `Rescan.Request`, as the verdicts endpoint). */
export async function handleImages(
  request: HttpRequest,
  deps: ImagesDeps,
  context: Pick<InvocationContext, 'warn'>,
): Promise<HttpResponseInit> {
  return answer(
    async () => {
      const principal = requireRole(request, deps.auth, PAGE_READ_ROLES);
      const listing = await deps.list();
      const decided = listing.images.filter((r) => r.verdict).length;
      return jsonResponse(200, {
        // The envelope (a listing: no checks of its own, outcome pass), then the listing's fields the page reads.
        ...resultOf({
          kind: 'ImagesResult',
          subject: deps.hostName,
          outcome: 'pass',
          summary: `${plural(listing.images.length, 'image')}, ${decided} with a verdict${listing.truncated ? ' (truncated)' : ''}`,
          data: { count: listing.images.length, decided },
        }),
        ...listing,
        host: deps.hostName,
        abilities: pageAbilities(principal, deps.auth, deps.host),
      });
    },
    (line) => context.warn(`images: ${line}`),
  );
}
