/*
 * Supvisors dashboard page script (no dependency, no build step). The pages work without it: action links then
 * show a confirmation form, and the auto-refresh mode reloads the page.
 *
 * 1. Action links: a click on a link whose URL carries an "action" parameter is turned into a POST of a form to
 *    that URL, so that state-changing requests are never plain GETs (prefetch, crawlers, history).
 * 2. Live updates: the server-sent events of body[data-live] tell that the fleet has changed; the page is then
 *    fetched again (at most once a second, never two fetches at a time) and its menu, header and contents are
 *    replaced in place; the statistics images are requested again.
 */
(function () {
    'use strict';

    var MIN_REFRESH_INTERVAL = 1000;  // ms between the starts of two live refreshes
    var RETRY_MIN = 5000;  // ms before opening again a live stream that the browser gave up
    var RETRY_MAX = 60000;
    var DROPPED_PARAMETERS = ['message', 'gravity', 'action'];  // one-shot parameters, never fetched again
    var REPLACED_PARTS = ['menu', 'header', 'contents'];
    var STATIC_IMAGES = /\/img\//;  // icons of the ui directory: never reloaded

    var submitting = false;

    // ------------------------------------------------------------------ action links posted
    function actionUrl(anchor) {
        var href = anchor.getAttribute('href');
        if (!href || href.indexOf('action=') < 0) {
            return null;
        }
        try {
            var url = new URL(anchor.href, window.location.href);
            return url.searchParams.has('action') ? url : null;
        } catch (error) {
            return null;
        }
    }

    function postAction(url) {
        var form = document.createElement('form');
        form.method = 'post';
        form.action = url.href;
        form.acceptCharset = 'utf-8';
        form.style.display = 'none';
        // the parameters are sent in the body as well: a POST always has a body to read
        url.searchParams.forEach(function (value, key) {
            var input = document.createElement('input');
            input.type = 'hidden';
            input.name = key;
            input.value = value;
            form.appendChild(input);
        });
        document.body.appendChild(form);
        submitting = true;
        document.body.classList.add('busy');
        form.submit();
    }

    function onClick(event) {
        if (event.defaultPrevented || event.button !== 0) {
            return;
        }
        var target = event.target;
        var anchor = target && target.closest ? target.closest('a[href]') : null;
        if (!anchor) {
            return;
        }
        var url = actionUrl(anchor);
        if (!url) {
            return;  // ordinary links (and their modifier clicks, new tabs...) are left to the browser
        }
        event.preventDefault();
        if (!submitting) {
            postAction(url);
        }
    }

    // ------------------------------------------------------------------ live updates
    var live = {
        source: null,
        inFlight: false,
        pending: false,
        lastStart: 0,
        timer: null,
        retryTimer: null,
        retryDelay: RETRY_MIN,
        broken: false
    };

    function pageUrl() {
        var url = new URL(window.location.href);
        DROPPED_PARAMETERS.forEach(function (name) {
            url.searchParams.delete(name);
        });
        url.hash = '';
        return url.href;
    }

    function scheduleRefresh() {
        live.pending = true;
        if (live.inFlight || live.timer || document.hidden) {
            return;  // done when the fetch ends, when the timer fires or when the page is visible again
        }
        var wait = live.lastStart + MIN_REFRESH_INTERVAL - Date.now();
        if (wait > 0) {
            live.timer = window.setTimeout(function () {
                live.timer = null;
                scheduleRefresh();
            }, wait);
            return;
        }
        refresh();
    }

    function refresh() {
        live.pending = false;
        live.inFlight = true;
        live.lastStart = Date.now();
        window.fetch(pageUrl(), {credentials: 'same-origin', cache: 'no-store', headers: {'Accept': 'text/html'}})
            .then(function (response) {
                if (!response.ok) {
                    throw new Error('HTTP ' + response.status);
                }
                return response.text();
            })
            .then(applyPage)
            .catch(function () {
                // the page stays as it is; the next event (or the meta refresh) tries again
            })
            .then(function () {
                live.inFlight = false;
                if (live.pending) {
                    scheduleRefresh();
                }
            });
    }

    function applyPage(html) {
        var fresh = new DOMParser().parseFromString(html, 'text/html');
        if (!fresh.getElementById('contents')) {
            return;  // not a Supvisors page (e.g. supervisord is not RUNNING)
        }
        REPLACED_PARTS.forEach(function (id) {
            var current = document.getElementById(id);
            var update = fresh.getElementById(id);
            if (current && update && current.innerHTML !== update.innerHTML) {
                var top = current.scrollTop;
                var left = current.scrollLeft;
                current.innerHTML = update.innerHTML;
                current.scrollTop = top;
                current.scrollLeft = left;
            }
        });
        var message = document.getElementById('message');
        var freshMessage = fresh.getElementById('message');
        if (message && freshMessage && message.classList.contains('empty')) {
            message.className = freshMessage.className;
            message.innerHTML = freshMessage.innerHTML;
        }
        var time = document.getElementById('time');
        var freshTime = fresh.getElementById('time');
        if (time && freshTime) {
            time.textContent = freshTime.textContent;
        }
        reloadImages();
    }

    function reloadImages() {
        // the images were generated again by the page render just fetched
        var stamp = String(Date.now());
        Array.prototype.forEach.call(document.querySelectorAll('#contents img[src], #header img[src]'), function (img) {
            var url;
            try {
                url = new URL(img.getAttribute('src'), window.location.href);
            } catch (error) {
                return;
            }
            if (STATIC_IMAGES.test(url.pathname)) {
                return;
            }
            url.searchParams.set('_live', stamp);
            // swapped once loaded, so that the old plot stays visible meanwhile
            var loader = new Image();
            loader.onload = function () {
                img.src = loader.src;
            };
            loader.src = url.href;
        });
    }

    function retryLater() {
        if (live.retryTimer) {
            return;
        }
        live.retryTimer = window.setTimeout(function () {
            live.retryTimer = null;
            connect();
        }, live.retryDelay);
        live.retryDelay = Math.min(2 * live.retryDelay, RETRY_MAX);
    }

    function connect() {
        var path = document.body && document.body.getAttribute('data-live');
        if (!path || !window.EventSource || !window.fetch || !window.DOMParser || live.source) {
            return;
        }
        var source;
        try {
            source = new EventSource(path);
        } catch (error) {
            retryLater();
            return;
        }
        live.source = source;
        source.onopen = function () {
            live.retryDelay = RETRY_MIN;
            if (live.broken) {
                live.broken = false;
                scheduleRefresh();  // changes may have been missed while disconnected
            }
        };
        source.onmessage = function () {
            scheduleRefresh();
        };
        source.onerror = function () {
            live.broken = true;
            if (source.readyState === EventSource.CLOSED) {
                // the browser gave up (HTTP error, wrong type): open a new stream later
                source.close();
                if (live.source === source) {
                    live.source = null;
                }
                retryLater();
            }
            // otherwise the browser reconnects by itself
        };
    }

    function disconnect() {
        if (live.source) {
            live.source.close();
            live.source = null;
        }
    }

    // ------------------------------------------------------------------ start
    function start() {
        document.addEventListener('click', onClick);
        document.addEventListener('visibilitychange', function () {
            if (!document.hidden && live.pending) {
                scheduleRefresh();
            }
        });
        window.addEventListener('pagehide', disconnect);
        window.addEventListener('pageshow', function (event) {
            if (event.persisted) {
                // page restored from the back-forward cache
                submitting = false;
                document.body.classList.remove('busy');
                live.broken = true;
                connect();
            }
        });
        connect();
    }

    if (document.readyState === 'loading') {
        document.addEventListener('DOMContentLoaded', start);
    } else {
        start();
    }
}());
