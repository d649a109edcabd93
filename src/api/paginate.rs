//! Following a paginated list to its end, believing a server's "more" only as far as its own
//! totals and never past a page that repeats the one before it.

use super::client::Answer;
use super::envelope::Page;
use super::error::ApiError;
use serde_json::Value;

pub const PAGE_SIZE: u64 = 100;
const MAX_PAGES: u64 = 10_000;

/// Every page of a list, concatenated; `fetch(n)` gets page `n` (from 1).
pub(crate) fn all_pages(
    mut fetch: impl FnMut(u64) -> Result<Page, ApiError>,
) -> Result<Answer, ApiError> {
    let mut items = Vec::new();
    let mut page_no = 1;
    loop {
        let page = fetch(page_no)?;
        let count = match page.data {
            Value::Array(list) => {
                let n = list.len();
                items.extend(list);
                n
            }
            Value::Null => 0,
            other => {
                return Ok(Answer {
                    data: other,
                    status: page.status,
                    request_id: page.request_id,
                })
            }
        };
        let number = |name: &str| {
            page.pagination
                .as_ref()
                .and_then(|p| p.get(name))
                .and_then(Value::as_u64)
        };
        let total_pages = number("total_pages");
        let total = number("total");
        let has_next = page
            .pagination
            .as_ref()
            .and_then(|p| p.get("has_next"))
            .and_then(Value::as_bool);
        let more = match (total_pages, has_next) {
            (_, Some(next)) => next,
            (Some(total), None) => page_no < total,
            (None, None) => false,
        };
        let within_totals = total_pages.is_none_or(|t| page_no < t)
            && total.is_none_or(|t| (items.len() as u64) < t);
        let repeated = count > 0
            && items.len() >= 2 * count
            && items[items.len() - count..] == items[items.len() - 2 * count..items.len() - count];
        if repeated {
            items.truncate(items.len() - count);
        }
        if !more || !within_totals || repeated || count == 0 || page_no >= MAX_PAGES {
            return Ok(Answer {
                data: Value::Array(items),
                status: page.status,
                request_id: page.request_id,
            });
        }
        page_no += 1;
    }
}
