// The card field (Stripe Elements) and the bank's 3-D Secure check. Card data goes to Stripe only.
(function () {
  "use strict";

  function show(errors, message) {
    errors.textContent = message || "";
  }

  // The page's own words for a failed card step (data-* of the error element, in the page's
  // language): Stripe's messages are written in English for developers.
  function plain(errors, error) {
    var text = ((error && error.code) || "") + " " + ((error && error.message) || "");
    if (/authenticat|3d ?secure/i.test(text)) {
      return errors.dataset.authFailed;
    }
    if (/declined/i.test(text) && errors.dataset.declined) {
      return errors.dataset.declined;
    }
    return errors.dataset.cardRefused || errors.dataset.authFailed;
  }

  var payForm = document.getElementById("pay-form");
  if (payForm) {
    var stripe = Stripe(payForm.dataset.publishableKey);
    var card = stripe.elements().create("card");
    card.mount("#card-element");
    var errors = document.getElementById("card-errors");
    var button = document.getElementById("pay-button");
    var failed = function (message) {
      show(errors, message || errors.dataset.cardRefused || "Your card could not be used. Please check the details.");
      button.disabled = false;
    };
    // The SetupIntent is asked for only now, when the holder submits a card (never to show the page).
    var setupSecret = function () {
      var body = new FormData();
      body.append("csrfmiddlewaretoken", payForm.elements.csrfmiddlewaretoken.value);
      body.append("purpose", payForm.dataset.setupPurpose);
      return fetch(payForm.dataset.setupUrl, { method: "POST", body: body, credentials: "same-origin" }).then(
        function (response) {
          var parsed = response.json().catch(function () {
            return {};
          });
          return parsed.then(function (data) {
            if (!response.ok || !data.client_secret) {
              throw new Error(data.error || "");
            }
            return data.client_secret;
          });
        }
      );
    };
    payForm.addEventListener("submit", function (event) {
      if (payForm.elements.setup_intent.value) {
        return;
      }
      event.preventDefault();
      button.disabled = true;
      show(errors, "");
      setupSecret()
        .then(function (clientSecret) {
          return stripe.confirmCardSetup(clientSecret, { payment_method: { card: card } });
        })
        .then(function (result) {
          if (result.error) {
            failed(plain(errors, result.error));
            return;
          }
          payForm.elements.setup_intent.value = result.setupIntent.id;
          payForm.submit();
        })
        .catch(function (error) {
          failed(error && error.message);
        });
    });
  }

  var authForm = document.getElementById("auth-form");
  if (authForm) {
    var authStripe = Stripe(authForm.dataset.publishableKey);
    var authButton = document.getElementById("auth-button");
    var authErrors = document.getElementById("card-errors");
    authForm.addEventListener("submit", function (event) {
      if (authForm.dataset.done) {
        return;
      }
      event.preventDefault();
      authButton.disabled = true;
      authStripe.confirmCardPayment(authForm.dataset.clientSecret).then(function (result) {
        if (result.error) {
          show(authErrors, authErrors.dataset.authFailed);
        }
        // Either way the server asks Stripe how the payment stands.
        authForm.dataset.done = "1";
        authForm.submit();
      });
    });
  }
})();
