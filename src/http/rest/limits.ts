/** Pull API page size (events per response). */
export const DEFAULT_EVENT_PAGE = 100;
export const MAX_EVENT_PAGE = 1000;
